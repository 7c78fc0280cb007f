"""Helpers shared by the alignment tests (not fixtures)."""
import copy


def train_tiny(root, recipe):
    """Train `recipe` on 16 synthetic tiny items (every 4th in test), save
    the checkpoint to root/ckpt; returns what the round-trip tests compare."""
    from xmodal.alignment.aligned import save_checkpoint
    from xmodal.alignment.train.data import read_jsonl
    from xmodal.alignment.train.fit import export_tensors, fit_stages, make_aligner
    from xmodal.alignment.train.prepare import base_stack, prepare
    from xmodal.alignment.train.report import checkpoint_info
    from train_synthetic import write_synthetic_files

    jsonl = write_synthetic_files(root / "data", 16, split_of=lambda i: "test" if i % 4 == 3 else "train")
    items, _ = read_jsonl(jsonl)
    stack = base_stack("tiny")
    base = copy.deepcopy(stack)
    prep = prepare(recipe, items, stack=stack, cache_root=str(root / "cache"))
    model = make_aligner(stack, recipe, prep.data["train"].modalities)
    fit_stages(model, stack, recipe, prep.data["train"], prep.data["train"])  # val=train: exercise stage 2
    save_checkpoint(root / "ckpt", export_tensors(model), checkpoint_info(prep, recipe, model, items, {}, {}, {}))
    return {"root": root, "ckpt": root / "ckpt", "model": model, "prep": prep, "items": items,
            "base": base, "base_fp": stack.fingerprint}
