// Table 4, row 1: Baseline (MLM only).
local lib = import '../lib/pretrain.libsonnet'; lib.ablation('baseline', lib.objectives.mlm, lib.views.without_mmm)
