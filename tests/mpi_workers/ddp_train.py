"""DistributedDataParallel: training, no_sync accumulation, an unused parameter; saved per rank."""
import numpy as np

import common

import sorix  # noqa: E402
import sorix.distributed as dist  # noqa: E402
from sorix import nn  # noqa: E402
from sorix.nn.parallel import DistributedDataParallel  # noqa: E402

dist.init_process_group("mpi", timeout=60)
rank, size = dist.get_rank(), dist.get_world_size()
results = {}

# 1. training: each rank starts from its own random weights; DDP makes them rank 0's
model = common.make_model(seed=1 + rank)
ddp = DistributedDataParallel(model, bucket_cap_mb=600 / 2**20)  # ~75 float64: several buckets
results["bucket_count"] = np.array(len(ddp._reducer.buckets))
results["state_dict_keys"] = np.array(list(ddp.state_dict()))
for key, value in model.state_dict().items():
    results[f"initial/{key}"] = value.numpy().copy()
optimizer = common.make_optimizer(ddp.parameters())
loss_fn = nn.CrossEntropyLoss()

# When each bucket's exchange starts: how many gradients were final by then, and whether
# backward was still running (the end-of-backward callback had not begun).
reducer = ddp._reducer
starts, in_callback = [], [False]
start_bucket, finish = reducer._start, reducer.finish


def recording_start(bucket):
    starts.append((sum(sum(b.ready) for b in reducer.buckets), in_callback[0]))
    start_bucket(bucket)


def recording_finish():
    in_callback[0] = True
    finish()


reducer._start, reducer.finish = recording_start, recording_finish
for step, batch in enumerate(common.batches()):
    X, y = common.shard(batch, rank, size)
    optimizer.zero_grad()
    loss = loss_fn(ddp(sorix.tensor(X)), sorix.tensor(y))
    loss.backward()
    if step == 0:
        for key, p in model.named_parameters():
            results[f"first_grad/{key}"] = p.grad.numpy().copy()
        results["bucket_starts"] = np.array(starts)
        reducer._start, reducer.finish = start_bucket, finish
    optimizer.step()
for key, value in model.state_dict().items():
    results[f"trained/{key}"] = value.numpy().copy()

# 2. gradient accumulation: two micro-batches under no_sync, the third synced
optimizer.zero_grad()
micro = common.batches(seed=11, count=3)
for i, batch in enumerate(micro):
    X, y = common.shard(batch, rank, size)
    if i < 2:
        with ddp.no_sync():
            loss_fn(ddp(sorix.tensor(X)), sorix.tensor(y)).backward()
        if i == 1:
            for key, p in model.named_parameters():
                results[f"local_grad/{key}"] = p.grad.numpy().copy()
    else:
        loss_fn(ddp(sorix.tensor(X)), sorix.tensor(y)).backward()
for key, p in model.named_parameters():
    results[f"accumulated_grad/{key}"] = p.grad.numpy().copy()


# 3. a parameter only rank 0 uses, and one no rank uses
heads = common.make_heads()
wrapped = DistributedDataParallel(heads)
x = sorix.tensor(common.heads_input(rank))
(wrapped(x, use_extra=rank == 0) ** 2).sum().backward()
for key, p in heads.named_parameters():
    results[f"heads_grad/{key}"] = p.grad.numpy().copy()
common.save(results, rank)
