// Table 4, row 3: +CD+MMM.
local lib = import '../lib/pretrain.libsonnet'; lib.ablation('cd_mmm', lib.objectives.mlm + lib.objectives.cd + lib.objectives.mmm)
