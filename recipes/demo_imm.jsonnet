// A short IMM pre-training on the demo set (real IU reports, SYNTHETIC images), for the retrieval
// check: do true image–report pairs score higher than shuffled ones on held-out studies?
//   cbf run recipes/demo_imm.jsonnet
//   python bench/imm_retrieval.py runs/demo-imm --split test --studies 100 --negatives 9
// IMM runs here in its in-batch contrastive form on the 'dual' view (image and report encoded
// in one pass but apart), the one form whose negatives are sound for a one-stream encoder; see
// docs/objectives.md. The paper's form (eq. 7 as printed, on s2s and bi) is one override away:
//   cbf run recipes/demo_imm.jsonnet -o objectives.imm.mode=paper -o 'objectives.imm.views=["s2s","bi"]' --out runs/demo-imm-paper
local demo = import 'lib/demo.libsonnet';
{
  name: 'demo-imm',
  description: 'IMM pre-training on the demo set (synthetic images) for the retrieval check',
  seed: 0,
  data: demo.data,
  model: demo.model,
  objectives: {
    mlm: { type: 'mlm' },
    imm: { type: 'imm', mode: 'contrastive', views: ['dual'], center: true, k: 12, rho1: 4.0, rho2: 4.0, tau: 0.01 },
  },
  // as in demo.jsonnet: image-only diagnosis steps teach the from-scratch CNN the findings
  head: { type: 'rd', target: 'chexpert', views: ['image'] },
  views: { type: 'weighted_views', ratios: { s2s: 0.3, bi: 0.2, dual: 0.3, image: 0.2 } },
  trainer: demo.trainer(150),
  hooks: [{ type: 'tensorboard' }],
}
