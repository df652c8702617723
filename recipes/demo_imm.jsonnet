// A short IMM pre-training on the demo set (real IU reports, SYNTHETIC images), for the retrieval
// check: do true image–report pairs score higher than shuffled ones on held-out studies?
//   cbf run recipes/demo_imm.jsonnet                                   # IMM as eq. 7 prints it
//   cbf run recipes/demo_imm.jsonnet -o objectives.imm.mode=contrastive -o objectives.imm.tau=0.1 --out runs/demo-imm-contrastive
//   python bench/imm_retrieval.py runs/demo-imm --split test --studies 100 --negatives 9
local demo = import 'lib/demo.libsonnet';
{
  name: 'demo-imm',
  description: 'IMM pre-training on the demo set (synthetic images) for the retrieval check',
  seed: 0,
  data: demo.data,
  model: demo.model,
  objectives: {
    mlm: { type: 'mlm' },
    imm: { type: 'imm', mode: 'paper', k: 12, rho1: 4.0, rho2: 4.0, tau: 0.01 },
  },
  // as in demo.jsonnet: image-only diagnosis steps teach the from-scratch CNN the findings
  head: { type: 'rd', target: 'chexpert', views: ['image'] },
  views: { type: 'weighted_views', ratios: { s2s: 0.4, bi: 0.4, image: 0.2 } },
  trainer: demo.trainer(150),
  hooks: [{ type: 'tensorboard' }],
}
