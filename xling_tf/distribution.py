"""Chooses the tf.distribute strategy from a flag, through Model Garden's distribute_utils."""

from __future__ import annotations

import tensorflow as tf
from official.common import distribute_utils

STRATEGIES = ("default", "off", "one_device", "mirrored", "multi_worker_mirrored", "tpu")


def split_host_cpu(num_devices: int) -> None:
    """Splits the host CPU into `num_devices` logical devices (must run before TF initialises).

    Lets the mirrored code path, with its per-replica batches and all-reduce, run on a
    machine with no accelerator; numbers are the same as on GPUs, only slower.
    """
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
    )


def build_strategy(
    name: str,
    num_gpus: int = 0,
    tpu_address: str | None = None,
    cpu_replicas: int = 0,
    all_reduce_alg: str | None = None,
) -> tf.distribute.Strategy:
    """Returns the strategy called `name` (see STRATEGIES).

    Args:
      name: "default"/"off" (no distribution), "one_device", "mirrored",
        "multi_worker_mirrored" (cluster from TF_CONFIG) or "tpu".
      num_gpus: GPUs to mirror over (0 = CPU).
      tpu_address: TPU name or grpc address for "tpu" ("local" on a TPU VM).
      cpu_replicas: with "mirrored" and no GPUs, mirror over this many logical CPU devices.
      all_reduce_alg: optional cross-device all-reduce algorithm (Model Garden names).
    """
    name = name.lower()
    if name not in STRATEGIES:
        raise ValueError(f"distribution_strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "default":
        name = "off"
    if name == "mirrored" and num_gpus == 0 and cpu_replicas > 1:
        split_host_cpu(cpu_replicas)
        devices = [f"/cpu:{i}" for i in range(cpu_replicas)]
        return tf.distribute.MirroredStrategy(
            devices=devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
    return distribute_utils.get_distribution_strategy(
        distribution_strategy=name,
        num_gpus=num_gpus,
        tpu_address=tpu_address,
        all_reduce_alg=all_reduce_alg,
    )
