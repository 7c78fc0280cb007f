"""Training the contrastive prompt alignment, as a pipeline that flows one way.

    recipes   Recipe / TrainConfig: JSON -> dataclasses at one boundary
    data      Item: the training example (JSON Lines and fetched corpora -> Item)
    run       orchestration: train_run, transfer_run, eval_run sequence the steps
    prepare   step 1: items + stack -> split tensors (features, audio, augment)
    fit       step 2: stages of training an Aligner (trainer: the loop)
    report    step 3: held-out recall per corpus, baselines, checkpoint record
    transfer, stack_eval   the steps of transfer and of `align eval`
    model     Rows / SplitData / Aligner: what every step passes along
    evaluate  recall of a model on a split (retrieval_metrics does the maths)

Steps import only modules below them and never `run`; losses are pure
functions (`xmodal.alignment.losses`); progress goes to the
`xmodal.alignment.train` loggers."""
