// Fine-tuning from a pre-training run, with the paper's downstream settings
// ("Implementation Details"): RRG with s2s:MMM = 0.75:0.25, batch 16, lr 1e-5, beam 5, the
// dataset's own vocabulary (words seen >= 3 times; jieba tokens for COV-CTR); RD with the bi
// view over visual tokens only, batch 32, lr 1e-5. Epochs are not stated in the paper: ours
// are a starting point. Every recipe is a pipeline: fine-tune → predict on the test split →
// evaluate (beside the most-frequent-report and random-report baselines).
//   -o pretrained=runs/clinical-bert-pretrain   the pre-training run folder (the default)
//   -o root=/data/...                            the dataset folder
local pre = import 'pretrain.libsonnet';
{
  model:: pre.pretrain.model + { backbone+: { pretrained: null } },

  rrg(name, dataset, max_length, epochs=30, tokenizer={ type: 'word_tokenizer', min_count: 3, max_length: max_length }):: {
    pretrained:: 'runs/clinical-bert-pretrain',
    local top = self,
    name: name,
    seed: 42,
    stages: [
      {
        stage: 'train',
        name: 'finetune',
        run: {
          init_from: top.pretrained,
          vocabulary: 'fit',
          data: { dataset: dataset, tokenizer: tokenizer, annotators: [{ type: 'mesh' }], num_workers: 4 },
          model: $.model,
          head: { type: 'rrg', max_length: max_length, beam_size: 5 },
          objectives: { mmm: { type: 'mmm' } },
          views: { type: 'weighted_views', ratios: { s2s: 0.75, mmm: 0.25 } },
          trainer: { epochs: epochs, batch_size: 16, lr: 1e-5, lr_visual: 1e-5, weight_decay: 0.01, warmup_steps: 500,
                     precision: 'bf16', eval_every: 1000, checkpoint_every: 1000 },
          hooks: [{ type: 'tensorboard' }],
        },
      },
      { stage: 'generate', name: 'generate', checkpoint: '@finetune', split: 'test', beam_size: 5, max_length: max_length },
      { stage: 'evaluate_reports', name: 'evaluate', predictions: '@generate' },
    ],
  },

  rd(name, dataset, head, epochs=10, pretrained='runs/clinical-bert-pretrain'):: {
    pretrained:: pretrained,
    local top = self,
    name: name,
    seed: 42,
    stages: [
      {
        stage: 'train',
        name: 'finetune',
        run: {
          init_from: top.pretrained,
          data: { dataset: dataset, tokenizer: { type: 'word_tokenizer' }, num_workers: 4 },
          model: $.model,
          head: head,
          views: { type: 'weighted_views', ratios: { bi: 1.0 } },
          trainer: { epochs: epochs, batch_size: 32, lr: 1e-5, lr_visual: 1e-5, weight_decay: 0.01, warmup_steps: 500,
                     precision: 'bf16', eval_every: 1000, checkpoint_every: 1000 },
          hooks: [{ type: 'tensorboard' }],
        },
      },
      { stage: 'evaluate_diagnosis', name: 'evaluate', checkpoint: '@finetune', split: 'test' },
    ],
  },
}
