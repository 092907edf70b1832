"""``python -m bench.emulator_server [N]``: the extended emulator in its own process, for benchmarks.

Seeds N Deployments ``bench/svc-I`` with one ReplicaSet and one healthy pod
``svc-I-7f8d9c6b5-abcde`` each, prints its base URL on the first line of stdout, then serves
until terminated, so the process under measurement spends no CPU on serving the emulated API
(as with a real API server).
"""

from __future__ import annotations

import asyncio
import sys

from aiops.emulator import running_emulator
from tests.operator import workloads
from tests.support import kube_fixtures as kf


async def main(count: int) -> None:
    async with running_emulator() as emu:
        emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        for i in range(count):
            deploy = emu.put_object(kf.deployment(f"svc-{i}", "bench", replicas=1, revision=1))
            rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="7f8d9c6b5"))
            pod = kf.pod(f"svc-{i}-7f8d9c6b5-abcde", "bench", labels=rs["metadata"]["labels"], owner=rs)
            emu.put_object(workloads.healthy(pod))
        sys.stdout.write(emu.url + "\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
