// Report generation on COV-CTR (paper Table 1): Chinese reports tokenized with jieba (the paper:
// 333 tokens), max length 80, beam 5, batch 16, lr 1e-5 — plus the COVID-19 AUROC (paper: 94.72%)
// from a diagnosis head on the COVID label.
//   cbf run recipes/finetune_rrg_covctr.jsonnet -o root=/data/COV-CTR -o pretrained=runs/clinical-bert-pretrain
local ft = import 'lib/finetune.libsonnet';
local words = { type: 'word_tokenizer', min_count: 3, max_length: 80, clean: false };  // jieba tokens, space-joined
{ root:: null } + ft.rrg('finetune-rrg-covctr', { type: 'cov_ctr', language: 'zh' }, 80, tokenizer=words) + {
  local covid = ft.rd('covid', { type: 'cov_ctr', language: 'zh' },
                      { type: 'rd', target: 'labels', num_labels: 1, label_names: ['COVID-19'] }, epochs=30),
  stages: [super.stages[0] + { run+: { data+: { dataset+: { root: $.root } } } }] + super.stages[1:] + [
    covid.stages[0] + { name: 'covid', run+: { init_from: $.pretrained, data+: { dataset+: { root: $.root } } } },
    covid.stages[1] + { name: 'covid_auroc', checkpoint: '@covid' },
  ],
}
