// Table 4, row 4: +CD+MMM+IMM without sparsity (all regions kept).
local lib = import '../lib/pretrain.libsonnet'; lib.ablation('cd_mmm_imm_nosparse', lib.objectives.mlm + lib.objectives.cd + lib.objectives.mmm + lib.objectives.imm(sparsity=false))
