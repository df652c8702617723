// The bundled demo, end to end on a laptop CPU: real IU X-Ray reports paired with SYNTHETIC
// phantom radiographs rendered from each report's human MeSH findings.
//   pre-train (MLM + CD + MMM) → fine-tune report generation (s2s + MMM) → generate reports for
//   the held-out test split → evaluate (NLG + clinical efficacy) beside two baselines;
//   fine-tune radiograph diagnosis (14 CheXpert labels from the rule labeler) → AUROC beside baselines.
//     cbf run recipes/demo.jsonnet            # results in runs/demo/*/metrics.json and report.html
local demo = import 'lib/demo.libsonnet';
{
  name: 'demo',
  description: 'cbf demo: real IU reports with SYNTHETIC phantom images (pre-train, fine-tune, generate, evaluate)',
  seed: 0,
  stages: [
    {
      stage: 'train',
      name: 'pretrain',
      run: {
        data: demo.data,
        model: demo.model,
        objectives: { mlm: { type: 'mlm' }, cd: { type: 'cd' }, mmm: { type: 'mmm' } },
        // Demo-only addition, not in the paper: image-only diagnosis on a fifth of the steps,
        // classifying the pooled backbone features (features 'visual_mean'). The CNN starts from
        // scratch here (no ImageNet weights offline) and CD sees the report under bi, so without
        // it nothing pushes the visual pathway to see the findings; through E[CLS] a
        // from-scratch CNN is still near chance after 300 steps, pooled it learns in tens.
        head: { type: 'rd', target: 'chexpert', views: ['image'], features: 'visual_mean' },
        views: { type: 'weighted_views', ratios: { s2s: 0.4, bi: 0.2, mmm: 0.2, image: 0.2 } },
        trainer: demo.trainer(300),
        hooks: [{ type: 'tensorboard' }],
      },
    },
    {
      stage: 'train',
      name: 'rrg',
      run: {
        init_from: '@pretrain',
        data: demo.data,
        model: demo.model,
        // Demo-only addition, not in the paper: the findings condition with guided decoding
        // (docs/generation.md). Without it the decoder writes the normal template for every
        // study after minutes of training; threshold 0.3 and guidance 5 were chosen on the
        // validation split (grid 0.2–0.5 × 2–8).
        head: { type: 'rrg', training: 'pseudo', max_length: 60,
                findings_condition: true, condition_threshold: 0.3, condition_guidance: 5 },
        objectives: { mmm: { type: 'mmm' } },
        views: { type: 'weighted_views', ratios: { s2s: 0.75, mmm: 0.25 } },
        trainer: demo.trainer(400, 1e-3),
        hooks: [{ type: 'tensorboard' }],
      },
    },
    { stage: 'generate', name: 'generate', checkpoint: '@rrg', split: 'test', beam_size: 3, max_length: 60, no_repeat_ngram_size: 3, batch_size: 64 },
    { stage: 'evaluate_reports', name: 'evaluate', predictions: '@generate' },
    {
      stage: 'train',
      name: 'rd',
      run: {
        init_from: '@pretrain',
        data: demo.data,
        model: demo.model,
        head: { type: 'rd', target: 'chexpert' },
        views: { type: 'weighted_views', ratios: { bi: 1.0 } },
        trainer: demo.trainer(300, 3e-4),
      },
    },
    { stage: 'evaluate_diagnosis', name: 'diagnosis', checkpoint: '@rd', split: 'test' },
  ],
}
