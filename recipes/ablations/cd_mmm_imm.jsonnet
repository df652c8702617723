// Table 4, row 5: +CD+MMM+IMM with sparsity (the full model, K = 12).
local lib = import '../lib/pretrain.libsonnet'; lib.ablation('cd_mmm_imm', lib.objectives.mlm + lib.objectives.cd + lib.objectives.mmm + lib.objectives.imm(k=12))
