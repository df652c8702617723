// Clinical-BERT pre-training with MLM + CD + MMM + IMM, the paper's settings (see lib/pretrain.libsonnet).
//   cbf run recipes/pretrain.jsonnet                                  # demo data, says so
//   cbf run recipes/pretrain.jsonnet -o data.root=/data/mimic-cxr-jpg \
//        -o model.encoder.pretrained=/models/bert-base-uncased
(import 'lib/pretrain.libsonnet').pretrain
