// Report generation on MIMIC-CXR (paper Table 2): max length 100, beam 5, batch 16, lr 1e-5.
//   cbf run recipes/finetune_rrg_mimic.jsonnet -o root=/data/mimic-cxr-jpg -o pretrained=runs/clinical-bert-pretrain
local ft = import 'lib/finetune.libsonnet';
{ root:: null } + ft.rrg('finetune-rrg-mimic', { type: 'mimic_cxr' }, 100, epochs=10) + {
  stages: [super.stages[0] + { run+: { data+: { dataset+: { root: $.root } } } }] + super.stages[1:],
}
