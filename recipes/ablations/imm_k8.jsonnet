// Table 5: IMM region sparsity K = 8.
local lib = import '../lib/pretrain.libsonnet'; lib.ablation('imm_k8', lib.objectives.mlm + lib.objectives.cd + lib.objectives.mmm + lib.objectives.imm(k=8))
