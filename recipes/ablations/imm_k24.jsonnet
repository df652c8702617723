// Table 5: IMM region sparsity K = 24.
local lib = import '../lib/pretrain.libsonnet'; lib.ablation('imm_k24', lib.objectives.mlm + lib.objectives.cd + lib.objectives.mmm + lib.objectives.imm(k=24))
