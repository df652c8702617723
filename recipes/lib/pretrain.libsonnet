// Clinical-BERT pre-training as the paper describes it ("Implementation Details"):
// BERT-base encoder, DenseNet-121 visual extractor, s2s:bi:MMM = 0.5:0.25:0.25, reports up to
// 100 words (vocabulary: words seen >= 3 times), 224x224 crops, AdamW (weight decay 0.01),
// lr 1e-4 encoder / 5e-5 visual, batch 256 through gradient accumulation, 50 epochs,
// rho1 = rho2 = 4, tau = 0.01, K = 12.
//
// Data: MIMIC-CXR-JPG when a root is given (-o data.root=/data/mimic-cxr-jpg); without one the
// recipe runs on the bundled demo set (real IU reports, synthetic images) and says so.
// Weights: -o model.encoder.pretrained=/path/to/bert-base-uncased (a local Hugging Face folder);
// with MIMIC the DenseNet starts from torchvision's ImageNet weights (cached or downloadable).
{
  objectives:: {
    mlm: { mlm: { type: 'mlm' } },
    cd: { cd: { type: 'cd' } },
    mmm: { mmm: { type: 'mmm' } },
    imm(k=12, sparsity=true, mode='paper'):: { imm: { type: 'imm', k: k, sparsity: sparsity, mode: mode, rho1: 4.0, rho2: 4.0, tau: 0.01 } },
  },

  views:: {
    with_mmm: { type: 'weighted_views', ratios: { s2s: 0.5, bi: 0.25, mmm: 0.25 } },
    // rows without MMM keep the paper's s2s:bi proportion and never sample an empty view
    without_mmm: { type: 'weighted_views', ratios: { s2s: 0.5, bi: 0.25 } },
  },

  pretrain:: {
    local root = self.data.root,
    name: 'clinical-bert-pretrain',
    description: if root == null then
      'Clinical-BERT pre-training on the DEMO set (real IU reports, synthetic images): no data.root given; '
      + 'for MIMIC-CXR run with -o data.root=/path/to/mimic-cxr-jpg'
    else 'Clinical-BERT pre-training on MIMIC-CXR at ' + root,
    seed: 42,
    data: {
      root:: null,
      dataset: if root == null then { type: 'demo', image_size: 256 } else { type: 'mimic_cxr', root: root },
      tokenizer: { type: 'word_tokenizer', min_count: 3, max_length: 100 },
      annotators: [{ type: 'mesh' }, { type: 'chexpert_rules' }],
      num_workers: 4,
    },
    model: {
      backbone: { type: 'densenet121', pretrained: if root == null then null else 'imagenet' },
      image_size: 224,
      max_views: 2,
      encoder: { pretrained: null, hidden_size: 768, num_layers: 12, num_heads: 12, intermediate_size: 3072 },
    },
    objectives: $.objectives.mlm + $.objectives.cd + $.objectives.mmm + $.objectives.imm(),
    views: $.views.with_mmm,
    trainer: {
      epochs: 50,
      batch_size: 64,
      grad_accum: 4,  // 64 x 4 = 256
      lr: 1e-4,
      lr_visual: 5e-5,
      weight_decay: 0.01,
      warmup_steps: 1000,  // not stated in the paper
      schedule: 'linear',
      precision: 'bf16',
      eval_every: 2000,
      checkpoint_every: 1000,
      log_every: 20,
    },
    hooks: [{ type: 'tensorboard' }],
  },

  // One row of an ablation table: the pre-training above with other objectives.
  ablation(name, objectives, views=$.views.with_mmm):: $.pretrain + {
    name: 'ablation-' + name,
    objectives: objectives,
    views: views,
  },
}
