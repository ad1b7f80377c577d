r"""Train one variant of an experiment on the main job's data and score it on the dev split.

  python benchmarks/dev_variant.py --workdir WORKDIR --name lr2e-3 \
      --experiment demo_distill --train_steps 800 \
      --params_override '{"trainer": {"optimizer_config": {"learning_rate":
          {"polynomial": {"initial_learning_rate": 0.002}}}}}' \
      --sick ../shared/data/sick-train-trial.tsv

`--routine_override '{"distill_en_": {"ranking_weight": 2.0}}'` changes the task config of
every routine whose name starts with the key (the routines are a list, which
`--params_override` cannot index); the key `task_weight` sets the routine's sampling weight
instead (`'{"translation_": {"task_weight": 2.0}}'`, for the proportional and annealed
samplers). `--routines distill_en` trains only the named routines (e.g. to see what one
routine's data alone teaches).

WORKDIR is a main job's workdir (`xling-tf demo --workdir WORKDIR`): its data/ and cached
teacher vectors are reused, the variant trains in WORKDIR/runs/NAME, nothing is exported and
nothing is measured on the New Testament. Prints one JSON line: the variant, its training
seconds and `dev_split.dev_scores` of its last checkpoint (P@1 with 999 distractors on the
Old Testament development chapters, Spearman on SICK's TRAIN rows). This is how the demo's
hyperparameters are chosen (RESULTS.md, "Distillation").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from dev_split import checkpoint_encoder, dev_scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, help="a main job's workdir")
    parser.add_argument("--name", required=True, help="the variant's run folder name")
    parser.add_argument("--experiment", default="demo_distill")
    parser.add_argument("--train_steps", type=int, default=0, help="0: the experiment's")
    parser.add_argument("--params_override", default="{}", help="JSON dict for params.override")
    parser.add_argument(
        "--routine_override",
        default="{}",
        help='JSON {"<routine name prefix>": {task_config fields}}, e.g. '
        '\'{"distill_en_": {"ranking_weight": 2.0}}\'',
    )
    parser.add_argument(
        "--routines",
        default="",
        help="comma-separated routine names to keep (e.g. distill_en); empty: all of them",
    )
    parser.add_argument("--sick", default=None, help="SICK file (its TRAIN rows are used)")
    args = parser.parse_args(argv)

    import xling_tf  # noqa: F401
    from xling_tf import main_job, train
    from xling_tf.configs import experiments
    from xling_tf.data import bible, multitask_corpus

    from official.core import exp_factory

    params = exp_factory.get_exp_config(args.experiment)
    data_dir = os.path.join(args.workdir, "data", "bible")
    corpus = bible.build_translation_corpus(data_dir, "en", "fr")
    cache_dir = os.path.join(args.workdir, "cache")
    if args.routines:
        keep = args.routines.split(",")
        unknown = set(keep) - set(multitask_corpus.routine_names(params))
        if unknown:
            parser.error(f"no routine named {sorted(unknown)}")
        params.task.task_routines = tuple(
            r for r in params.task.task_routines if r.task_name in keep
        )
    main_job._prepare_training_data(params, data_dir, corpus, None, None, cache_dir)
    if args.train_steps:
        experiments.set_train_steps(params, args.train_steps)
    params.override(json.loads(args.params_override), is_strict=True)
    for prefix, fields in json.loads(args.routine_override).items():
        routines = [r for r in params.task.task_routines if r.task_name.startswith(prefix)]
        if not routines:
            parser.error(f"no routine name starts with {prefix!r}")
        for routine in routines:
            routine.task_weight = fields.get("task_weight", routine.task_weight)
            task_fields = {k: v for k, v in fields.items() if k != "task_weight"}
            routine.task_config.override(task_fields, is_strict=True)
    model_dir = os.path.join(args.workdir, "runs", args.name)
    started = time.time()
    train.run(params, model_dir, mode="train")
    seconds = time.time() - started
    embed, checkpoint = checkpoint_encoder(model_dir)
    scores = dev_scores(embed, data_dir, args.sick)
    print(
        json.dumps({"variant": args.name, "checkpoint": checkpoint, "train_s": seconds, **scores})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
