// Table 4, row 2: +CD.
local lib = import '../lib/pretrain.libsonnet'; lib.ablation('cd', lib.objectives.mlm + lib.objectives.cd, lib.views.without_mmm)
