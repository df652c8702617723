// Pieces of the demo pipeline, shared by recipes/demo.jsonnet and its variants.
// Sizes are chosen for a 2-core laptop CPU: 128 px phantoms, a small CNN trained from scratch
// (no ImageNet weights offline), a 3-layer encoder 192 wide. The paper's sizes live in pretrain.jsonnet.
{
  data:: {
    dataset: { type: 'demo', image_size: 128 },
    tokenizer: { type: 'word_tokenizer', min_count: 3, max_length: 60 },
    annotators: [{ type: 'mesh' }, { type: 'chexpert_rules' }],
  },
  model:: {
    backbone: { type: 'small_cnn' },
    image_size: 128,
    encoder: { hidden_size: 192, num_layers: 3, num_heads: 4, intermediate_size: 768 },
  },
  trainer(steps, lr=5e-4, lr_visual=1e-3):: {
    max_steps: steps,
    batch_size: 32,
    lr: lr,
    lr_visual: lr_visual,
    warmup_steps: std.floor(steps / 10),
    eval_batches: 4,
    log_every: 10,
  },
}
