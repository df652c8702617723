// Report generation on IU X-Ray (paper Table 1): max length 60, beam 5, batch 16, lr 1e-5.
//   cbf run recipes/finetune_rrg_iu.jsonnet -o root=/data/iu_xray -o pretrained=runs/clinical-bert-pretrain
// The root holds NLMCXR_reports.tgz + NLMCXR_png/ (Open-i), or R2Gen's annotation.json + images/.
// Without a root this runs on the demo set (real IU reports, SYNTHETIC images) and says so.
local ft = import 'lib/finetune.libsonnet';
{
  root:: null,
  local root = self.root,
  description: if root == null then 'IU X-Ray report generation on the DEMO set (synthetic images): give -o root=/data/iu_xray'
  else 'IU X-Ray report generation, data at ' + root,
} + ft.rrg('finetune-rrg-iu',
           { type: 'demo', image_size: 256 },  // replaced below when a root is given
           60) + {
  stages: [super.stages[0] + { run+: { data+: { dataset: if $.root == null then { type: 'demo', image_size: 256 } else { type: 'iu_xray', root: $.root } } } }]
          + super.stages[1:],
}
