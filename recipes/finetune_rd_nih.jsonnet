// Radiograph diagnosis on NIH ChestX-ray14 (paper Table 3): visual tokens only, bi view, FC on
// E[CLS], 14 sigmoids, BCE, batch 32, lr 1e-5; AUROC per finding and mean in the table's order.
//   cbf run recipes/finetune_rd_nih.jsonnet -o root=/data/nih -o pretrained=runs/clinical-bert-pretrain
local ft = import 'lib/finetune.libsonnet';
{ root:: null } + ft.rd('finetune-rd-nih', { type: 'nih_chestxray14' }, { type: 'rd', target: 'labels', num_labels: 14 }) + {
  stages: [super.stages[0] + { run+: { data+: { dataset+: { root: $.root } } } }] + super.stages[1:],
}
