#!/usr/bin/env python
"""Load-test the enhancement service on this machine: N concurrent clients, mixed photo sizes, a share of bad files.

Either starts scripts/serve.py itself (--model, once per --max-batch value; any flag this script does not know
is passed on to serve.py, e.g. --opt, --tile-size, --device) or targets a running server (--url, loopback
only: this tool never sends traffic off the machine). Bounded: at most --requests requests per run and no new
request after --duration seconds. Every good photo's answer is decoded and checked to have the photo's size;
every bad file must be refused with a 4xx. Prints one table row per (max batch, clients): throughput, p50/p95/p99
latency of the good requests, photos per group from /metrics, and errors by kind. Exit code 1 when any good
request failed or came back wrong, 2 for bad arguments.

Examples:
  python scripts/load_test.py --model experiments/NAFNet_w16_demo_cpu/models/net_g_latest.pth \\
      --opt options/nafnet_demo.yml --max-batch 1 8 --concurrency 1 4 16 --requests 48
  python scripts/load_test.py --url http://127.0.0.1:8000 --concurrency 4
"""
import argparse
import asyncio
import io
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
BAD_KINDS = ('empty', 'text', 'truncated')


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument('--url', help='a running server on this machine (127.0.0.1, ::1 or localhost)')
    target.add_argument('--model', help='checkpoint: start scripts/serve.py with it for each --max-batch')
    parser.add_argument('--max-batch', type=int, nargs='+', default=[8],
                        help='with --model: serve.py --max-batch values to compare, 1 = batching off (default: 8)')
    parser.add_argument('--concurrency', type=int, nargs='+', default=[1, 4, 16], help='clients (default: 1 4 16)')
    parser.add_argument('--requests', type=int, default=48, help='requests per run at most (default: 48)')
    parser.add_argument('--duration', type=float, default=120, help='seconds per run at most (default: 120)')
    parser.add_argument('--sizes', nargs='+', default=['480x320', '800x600', '1200x800'],
                        help='photo sizes WxH, used in turn (default: 480x320 800x600 1200x800)')
    parser.add_argument('--bad-share', type=float, default=0.1,
                        help='share of bad files (empty, text, truncated JPEG) (default: 0.1)')
    parser.add_argument('--timeout', type=float, default=300, help='client timeout per request, s (default: 300)')
    parser.add_argument('--ready-timeout', type=float, default=300, help='seconds to wait for /readyz (default: 300)')
    parser.add_argument('--seed', type=int, default=0)
    return parser


def check_loopback(url):
    host = urlsplit(url).hostname or ''
    if host == 'localhost':
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f'{url} is not on this machine; the load test only targets loopback addresses')


def parse_size(text):
    try:
        width, height = (int(part) for part in text.lower().split('x'))
    except ValueError:
        raise ValueError(f'size {text!r} is not WxH') from None
    if width < 1 or height < 1:
        raise ValueError(f'size {text!r} must be positive')
    return width, height


def photo_jpeg(width, height, rng):
    """A photo-like JPEG (smooth colour gradients and sensor noise) of ``width`` x ``height``."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    phases = rng.uniform(0, 6.28, 3)
    rgb = np.stack([0.5 + 0.35 * np.sin(xx / 97 + yy / 61 + p) for p in phases], axis=2)
    rgb += rng.normal(0, 0.02, rgb.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb * 255, 0, 255).astype(np.uint8)).save(buffer, 'JPEG', quality=90)
    return buffer.getvalue()


@dataclass
class Job:
    kind: str  # 'good' or a BAD_KINDS name
    body: bytes
    size: tuple | None  # (width, height) a good answer must have


def make_jobs(count, sizes, bad_share, seed):
    """``count`` jobs: photos of ``sizes`` in turn, every bad file spread evenly among them."""
    rng = np.random.default_rng(seed)
    photos = {size: photo_jpeg(*size, rng) for size in sizes}
    bad_every = int(round(1 / bad_share)) if bad_share > 0 else 0
    jobs, good = [], 0
    for index in range(count):
        if bad_every and index % bad_every == bad_every - 1:
            kind = BAD_KINDS[(index // bad_every) % len(BAD_KINDS)]
            sample = photos[sizes[0]]
            body = {'empty': b'', 'text': b'this is not a photo\n' * 10, 'truncated': sample[:len(sample) // 2]}[kind]
            jobs.append(Job(kind, body, None))
        else:
            size = sizes[good % len(sizes)]
            good += 1
            jobs.append(Job('good', photos[size], size))
    return jobs


@dataclass
class RunResult:
    clients: int
    seconds: float = 0.0
    latencies: list = field(default_factory=list)  # of good requests that came back right
    megapixels: float = 0.0
    errors: dict = field(default_factory=dict)  # kind -> count
    sent: int = 0
    rejected_ok: int = 0

    def error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1


def check_answer(job, response, result, seconds):
    if job.kind != 'good':
        if 400 <= response.status_code < 500:
            result.rejected_ok += 1
        else:
            result.error(f'bad file {job.kind} got {response.status_code}')
        return
    if response.status_code != 200:
        try:
            reason = response.json().get('error', '')
        except ValueError:
            reason = ''
        result.error(f'{response.status_code} {reason}'.strip())
        return
    try:
        with Image.open(io.BytesIO(response.content)) as image:
            image.load()
            size = image.size
    except Exception:  # noqa: BLE001  (any decode failure is the error we count)
        result.error('answer does not decode')
        return
    if size != job.size:
        result.error(f'answer is {size[0]}x{size[1]}, photo {job.size[0]}x{job.size[1]}')
        return
    result.latencies.append(seconds)
    result.megapixels += size[0] * size[1] / 1e6


async def run_clients(url, jobs, clients, duration, timeout):
    result = RunResult(clients)
    pending = iter(jobs)
    deadline = time.perf_counter() + duration

    async def client(http):
        for job in pending:
            if time.perf_counter() > deadline:
                return
            result.sent += 1
            started = time.perf_counter()
            try:
                response = await http.post(f'{url}/v1/enhance', content=job.body,
                                           headers={'Content-Type': 'image/jpeg'})
            except httpx.HTTPError as err:
                result.error(type(err).__name__)
                continue
            check_answer(job, response, result, time.perf_counter() - started)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        result.seconds = time.perf_counter() - started
    return result


def group_counts(url):
    """(groups, photos) so far from the server's batch_photos histogram."""
    text = httpx.get(f'{url}/metrics', timeout=30, trust_env=False).text
    values = {}
    for line in text.splitlines():
        for name in ('realestate_sr_batch_photos_count', 'realestate_sr_batch_photos_sum'):
            if line.startswith(name + ' '):
                values[name] = float(line.split()[1])
    return values.get('realestate_sr_batch_photos_count', 0.0), values.get('realestate_sr_batch_photos_sum', 0.0)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_ready(url, seconds, process=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f'scripts/serve.py exited with code {process.returncode}')
        try:
            ready = httpx.get(f'{url}/readyz', timeout=5, trust_env=False)
            if ready.status_code == 200:
                return ready.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f'{url} not ready within {seconds:.0f} s')


def start_server(args, serve_args, max_batch, log):
    port = free_port()
    command = [sys.executable, str(REPO / 'scripts' / 'serve.py'), '--model', args.model, '--port', str(port),
               '--max-batch', str(max_batch), '--log-level', 'warning', *serve_args]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return process, f'http://127.0.0.1:{port}'


def stop_server(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def percentile(values, share):
    return float(np.percentile(values, share)) * 1000 if values else float('nan')


def table_row(max_batch, result, groups, photos):
    good = len(result.latencies)
    errors = sum(result.errors.values())
    mean_group = photos / groups if groups else float('nan')
    return (f'| {max_batch} | {result.clients} | {result.sent} | {good} | {result.rejected_ok} | {errors} | '
            f'{result.sent / result.seconds:.2f} | {result.megapixels / result.seconds:.2f} | '
            f'{percentile(result.latencies, 50):.0f} | {percentile(result.latencies, 95):.0f} | '
            f'{percentile(result.latencies, 99):.0f} | {mean_group:.2f} |')


HEADER = ('| max batch | clients | requests | good ok | bad refused | errors | req/s | MP/s | p50 ms | p95 ms | p99 ms '
          '| photos/group |\n|---|---|---|---|---|---|---|---|---|---|---|---|')


def measure(url, label, args, jobs):
    rows, failed = [], False
    for clients in args.concurrency:
        before = group_counts(url)
        result = asyncio.run(run_clients(url, jobs, clients, args.duration, args.timeout))
        after = group_counts(url)
        rows.append(table_row(label, result, after[0] - before[0], after[1] - before[1]))
        print(rows[-1], flush=True)
        for kind, count in sorted(result.errors.items()):
            print(f'|   | errors: {count} x {kind} |', flush=True)
        failed |= bool(result.errors)
    return rows, failed


def main(argv=None):
    parser = build_parser()
    args, serve_args = parser.parse_known_args(argv)
    try:
        if args.url:
            check_loopback(args.url)
            if serve_args:
                raise ValueError(f'unknown arguments {serve_args} (flags for serve.py need --model)')
        sizes = [parse_size(text) for text in args.sizes]
        for flag, values in (('--concurrency', args.concurrency), ('--max-batch', args.max_batch)):
            if min(values) < 1:
                raise ValueError(f'{flag} values must be >= 1')
        if args.requests < 1 or args.duration <= 0 or not 0 <= args.bad_share < 1:
            raise ValueError('--requests must be >= 1, --duration > 0 and --bad-share in [0, 1)')
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    jobs = make_jobs(args.requests, sizes, args.bad_share, args.seed)
    good = sum(job.kind == 'good' for job in jobs)
    print(f'{len(jobs)} requests per run ({good} photos of {" ".join(args.sizes)}, {len(jobs) - good} bad files), '
          f'at most {args.duration:g} s per run', flush=True)
    failed, started = False, time.perf_counter()
    if args.url:
        info = wait_ready(args.url, args.ready_timeout)
        print(f'server {args.url}: {info.get("model")}, {info.get("network")}, runs {info.get("runs")}\n{HEADER}')
        _, failed = measure(args.url, info.get('max_batch', '?'), args, jobs)
    else:
        print(HEADER, flush=True)
        with tempfile.TemporaryDirectory(prefix='load_test_') as folder:
            for max_batch in args.max_batch:
                log_path = Path(folder) / f'serve_{max_batch}.log'
                with open(log_path, 'wb') as log:
                    process, url = start_server(args, serve_args, max_batch, log)
                    try:
                        wait_ready(url, args.ready_timeout, process)
                        _, run_failed = measure(url, max_batch, args, jobs)
                        failed |= run_failed
                    except RuntimeError as err:
                        print(f'error: {err}; serve.py said:\n{log_path.read_text(errors="replace")[-3000:]}',
                              file=sys.stderr)
                        return 1
                    finally:
                        stop_server(process)
    print(f'done in {time.perf_counter() - started:.0f} s; {"some requests failed" if failed else "no errors"}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
