// Table 5: IMM region sparsity K = 16.
local lib = import '../lib/pretrain.libsonnet'; lib.ablation('imm_k16', lib.objectives.mlm + lib.objectives.cd + lib.objectives.mmm + lib.objectives.imm(k=16))
