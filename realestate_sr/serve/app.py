"""The HTTP service: ``create_app(enhancer, ServeConfig(...))`` returns a FastAPI app.

Routes: ``POST /v1/enhance`` (one photo in, the enhanced photo out), ``GET /healthz`` (the process answers),
``GET /readyz`` (the model is loaded and has run once), ``GET /metrics`` (Prometheus text), ``GET /`` (the
before/after page). docs/serving.md describes the contract.

A request goes: body read into memory (size-capped) -> header checked (format, megapixels) -> decoded upright
in sRGB in a thread (``photo_io.decode_photo``, exactly what tiled_infer.py decodes) -> queued for the
``Batcher``, which runs it with other waiting photos through ``Enhancer.run_photos`` -> encoded in a thread
(``photo_io.encode_photo``: EXIF kept, orientation 1, sRGB tag, alpha, 16-bit PNG/TIFF). The event loop only
moves bytes; the per-request timeout covers decode, queue, network and encode.
"""
import asyncio
import http
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from realestate_sr.archs.whole_photo_ops import StrengthError
from realestate_sr.inference import photo_io
from realestate_sr.inference.postprocess import PostProcessSettings
from realestate_sr.serve import uploads
from realestate_sr.serve.batching import Batcher, QueueFullError
from realestate_sr.serve.metrics import ServiceMetrics
from realestate_sr.serve.page import PAGE_HTML
from realestate_sr.serve.uploads import UploadError
from realestate_sr.utils.cli_flags import OUTPUT_FORMATS, SERVICE_DEFAULTS
from realestate_sr.utils.photo_formats import FORMATS, output_format

LOG = logging.getLogger(__name__)  # one line per request: method, path, status, milliseconds


@dataclass(frozen=True)
class ServeConfig:
    """How the service batches and what it accepts (scripts/serve.py flags of the same names).

    Attributes:
        model_name (str): sent back in the ``X-Model`` header and shown by /readyz.
        max_batch (int): photos grouped into shared network calls (1: no batching).
        max_wait_ms (float): how long the first photo of a group waits for others.
        queue_size (int): photos that may wait for the device before 503.
        timeout_s (float): per-request limit on decode + queue + network + encode (504 after it).
        max_bytes (int): largest upload (413 above).
        max_megapixels (float): largest width x height (413 above), checked from the header before decoding.
        quality (int): default JPEG/WebP quality (the ``quality`` query parameter overrides it).
        io_threads (int): threads that decode and encode photos.
        warmup_side (int): side of the square photo run once at start-up (/readyz waits for it).
        postprocess (PostProcessSettings): colour finishing after the network, as tiled_infer.py's flags (off).
    """
    model_name: str = 'model'
    max_batch: int = SERVICE_DEFAULTS['max_batch']
    max_wait_ms: float = SERVICE_DEFAULTS['max_wait_ms']
    queue_size: int = SERVICE_DEFAULTS['queue_size']
    timeout_s: float = SERVICE_DEFAULTS['timeout_s']
    max_bytes: int = SERVICE_DEFAULTS['max_bytes']
    max_megapixels: float = SERVICE_DEFAULTS['max_megapixels']
    quality: int = SERVICE_DEFAULTS['quality']
    io_threads: int = SERVICE_DEFAULTS['io_threads']
    warmup_side: int = 64
    postprocess: PostProcessSettings = PostProcessSettings()


def _error(status, reason, message, headers=None):
    return JSONResponse({'error': reason, 'detail': message}, status_code=status, headers=headers)


def create_app(enhancer, config=None):
    """The FastAPI app serving ``enhancer`` (an ``Enhancer``) as ``config`` (ServeConfig) says."""
    config = config or ServeConfig()
    state = {'ready': False, 'warmup_error': None, 'group_seconds': []}
    batcher = None
    metrics = ServiceMetrics(queue_depth=lambda: batcher.depth if batcher is not None else 0)

    def group_done(photos, seconds):
        metrics.batch_photos.observe(photos)
        state['group_seconds'] = (state['group_seconds'] + [seconds])[-20:]

    batcher = Batcher(enhancer, config.max_batch, config.max_wait_ms, config.queue_size, on_group=group_done,
                      on_call=metrics.network_batch.observe)
    io_pool = ThreadPoolExecutor(max_workers=max(1, config.io_threads), thread_name_prefix='photo-io')

    async def warm_up():
        side = config.warmup_side
        if enhancer.tiles:
            side = max(side, enhancer.settings.tile_size)
        photo = np.full((side, side, 3), 0.5, np.float32)
        try:
            await batcher.warm_up([photo])
            state['ready'] = True
        except Exception as err:  # noqa: BLE001  (reported by /readyz; the process stays up for /healthz)
            state['warmup_error'] = f'{type(err).__name__}: {err}'

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        warming = asyncio.get_running_loop().create_task(warm_up())
        try:
            yield
        finally:
            warming.cancel()
            await batcher.stop()
            io_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title='realestate_sr', summary='Listing photo enhancement', lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.batcher, app.state.metrics, app.state.config = batcher, metrics, config

    @app.middleware('http')
    async def log_request(request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        LOG.info('%s %s %d %.1f ms', request.method, request.url.path, response.status_code,
                 (time.perf_counter() - started) * 1000)
        return response

    @app.exception_handler(HTTPException)
    async def routing_error(request, err):
        # the router's own refusals (404, 405) in the shape of every other error: {"error", "detail"}
        reason = http.HTTPStatus(err.status_code).phrase.lower().replace(' ', '_').replace('-', '_')
        return _error(err.status_code, reason, f'{request.method} {request.url.path}: {err.detail}',
                      headers=getattr(err, 'headers', None))

    @app.get('/', response_class=HTMLResponse)
    async def page():
        return HTMLResponse(PAGE_HTML)

    @app.get('/healthz')
    async def healthz():
        return {'status': 'alive'}

    @app.get('/readyz')
    async def readyz():
        body = {'ready': state['ready'], 'model': config.model_name, 'network': enhancer.description,
                'runs': enhancer.settings.describe(), 'max_batch': config.max_batch}
        if state['warmup_error']:
            body['error'] = state['warmup_error']
        return JSONResponse(body, status_code=200 if state['ready'] else 503)

    @app.get('/metrics')
    async def metrics_page():
        return Response(metrics.render(), media_type=metrics.content_type)

    def retry_after():
        recent = state['group_seconds']
        per_group = sum(recent) / len(recent) if recent else 1.0
        return str(max(1, math.ceil(per_group * config.queue_size / config.max_batch)))

    def encode(result, photo, fmt, quality):
        return photo_io.encode_photo(config.postprocess.apply(np.clip(result, 0, 1)), photo, fmt, quality)

    async def process(data, requested, quality, strength, timings):
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        photo = await loop.run_in_executor(io_pool, uploads.decode, data, config.max_megapixels)
        timings['decode'] = time.perf_counter() - started
        ran = await batcher.enhance(photo.rgb, strength)
        timings.update(queue=ran.queue_s, compute=ran.compute_s)
        fmt = output_format(requested, photo=photo)
        started = time.perf_counter()
        try:
            encoded = await loop.run_in_executor(io_pool, encode, ran.rgb, photo, fmt, quality)
        except photo_io.PhotoWriteError as err:
            raise _EncodeError(str(err)) from err
        timings['encode'] = time.perf_counter() - started
        return encoded, fmt, photo, ran.group_size

    @app.post('/v1/enhance')
    async def enhance(request: Request):
        started = time.perf_counter()
        metrics.in_flight.inc()
        outcome, timings = 'ok', {}
        try:
            requested = request.query_params.get('format', 'jpeg').lower()
            if requested not in OUTPUT_FORMATS:
                raise UploadError(400, 'bad_parameter', f'format must be one of {list(OUTPUT_FORMATS)}')
            quality = _quality(request.query_params.get('quality'), config.quality)
            strength = _strength(request.query_params.get('strength'), enhancer)
            body = await uploads.read_body(request, config.max_bytes)
            data, name = uploads.photo_bytes(request.headers.get('content-type'), body, config.max_bytes)
            remaining = config.timeout_s - (time.perf_counter() - started)
            encoded, fmt, photo, group_size = await asyncio.wait_for(
                process(data, requested, quality, strength, timings), max(remaining, 0.001))
        except UploadError as err:
            outcome = err.reason
            return _error(err.status, err.reason, str(err))
        except QueueFullError as err:
            outcome = 'queue_full'
            return _error(503, 'queue_full', str(err), headers={'Retry-After': retry_after()})
        except asyncio.TimeoutError:
            outcome = 'timeout'
            return _error(504, 'timeout', f'not done within {config.timeout_s} s')
        except _EncodeError as err:
            outcome = 'encode_failed'
            return _error(500, 'encode_failed', str(err))
        except Exception as err:  # noqa: BLE001  (this request fails; the server and the others go on)
            outcome = 'enhance_failed'
            return _error(500, 'enhance_failed', f'{type(err).__name__}: {err}')
        finally:
            metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            metrics.finished(outcome, seconds)
            if outcome == 'ok':
                for stage, value in timings.items():
                    metrics.stages.labels(stage).observe(value)
        height, width = photo.rgb.shape[:2]
        stem = (name.rsplit('.', 1)[0] if name else 'photo') or 'photo'
        headers = {
            'X-Model': config.model_name,
            'X-Elapsed-Ms': f'{seconds * 1000:.1f}',
            'X-Batch-Photos': str(group_size),
            'X-Image-Size': f'{width}x{height}',
            'X-Strength': f'{enhancer.settings.strength if strength is None else strength:g}',
            'Server-Timing': ', '.join(f'{stage};dur={value * 1000:.1f}' for stage, value in timings.items()),
            'Content-Disposition': f'inline; filename="{_header_safe(stem)}_enhanced{FORMATS[fmt].extension}"',
        }
        return Response(encoded, media_type=FORMATS[fmt].media_type, headers=headers)

    return app


class _EncodeError(RuntimeError):
    """The enhanced photo could not be encoded in the format asked for."""


def _quality(value, default):
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise UploadError(400, 'bad_parameter', f'quality must be an integer in [1, 100], got {value!r}')
    return int(value)


def _strength(value, enhancer):
    """The ``strength`` query parameter as a float the enhancer runs (None when not given: its settings')."""
    if value is None:
        return None
    try:
        return enhancer.check_strength(value)
    except StrengthError as err:
        raise UploadError(400, 'bad_parameter', str(err)) from None


def _header_safe(text):
    return ''.join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else '_' for ch in text)
