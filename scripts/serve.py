#!/usr/bin/env python
"""Serve a model over HTTP: POST /v1/enhance, /healthz, /readyz, /metrics and a before/after page at /.

Photos are decoded and encoded exactly as scripts/tiled_infer.py does (EXIF orientation, ICC -> sRGB, alpha,
16-bit, EXIF kept) and run through the same Enhancer; concurrent requests share network calls (dynamic
batching: up to --max-batch photos, waiting at most --max-wait-ms). See docs/serving.md.

Examples:
  python scripts/serve.py --model experiments/NAFNet_w16_demo_cpu/models/net_g_latest.pth --opt options/nafnet_demo.yml
  python scripts/serve.py --model nafnet.onnx        (an ONNX graph from scripts/export_onnx.py, on ONNX Runtime)
  curl -sS --data-binary @IMG_0042.JPG -H 'Content-Type: image/jpeg' http://127.0.0.1:8000/v1/enhance -o out.jpg
"""
import argparse
import logging
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

if __name__ == '__main__':  # glibc reads its malloc settings only at start-up: re-exec before torch loads
    runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/malloc_tuning.py', run_name='__main__')

# the flags come from this file alone, loaded by path: the package (torch, basicsr) loads once the arguments parse
FLAGS = SimpleNamespace(**runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/cli_flags.py'))

LOG = logging.getLogger('serve')
DEFAULTS = SimpleNamespace(**FLAGS.SERVICE_DEFAULTS)  # ServeConfig's defaults


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', required=True, help='checkpoint (.pth: params/params_ema/bare/official), an '
                        'experiment folder (its models/net_g_best.pth, else net_g_latest.pth) or an .onnx file from '
                        'scripts/export_onnx.py')
    parser.add_argument('--backend', choices=['torch', 'onnxruntime'], default=None,
                        help='what runs --model (default: onnxruntime for an .onnx file, else torch)')
    parser.add_argument('--model-name', help='name in the X-Model header and /readyz (default: the experiment '
                        'folder and checkpoint file, e.g. NAFNet_w16_demo_cpu/net_g_latest)')
    FLAGS.add_photo_tool_args(parser)
    http = parser.add_argument_group('service')
    http.add_argument('--host', default='127.0.0.1', help='address to listen on (default: 127.0.0.1; 0.0.0.0 '
                      'for all interfaces, e.g. behind a load balancer)')
    http.add_argument('--port', type=int, default=8000, help='port (default: 8000)')
    http.add_argument('--max-batch', type=int, default=DEFAULTS.max_batch,
                      help=f'photos grouped into shared network calls; 1 switches batching off '
                      f'(default: {DEFAULTS.max_batch})')
    http.add_argument('--max-wait-ms', type=float, default=DEFAULTS.max_wait_ms,
                      help=f'how long a photo waits for others to share its calls (default: {DEFAULTS.max_wait_ms})')
    http.add_argument('--queue-size', type=int, default=DEFAULTS.queue_size,
                      help=f'photos that may wait for the device; beyond, 503 + Retry-After '
                      f'(default: {DEFAULTS.queue_size})')
    http.add_argument('--timeout-s', type=float, default=DEFAULTS.timeout_s,
                      help=f'per-request limit, decode to encode; 504 after it (default: {DEFAULTS.timeout_s})')
    http.add_argument('--max-bytes', type=int, default=DEFAULTS.max_bytes,
                      help=f'largest upload in bytes; 413 above (default: {DEFAULTS.max_bytes})')
    http.add_argument('--max-megapixels', type=float, default=DEFAULTS.max_megapixels,
                      help=f'largest photo, width x height in MP; 413 above (default: {DEFAULTS.max_megapixels})')
    http.add_argument('--quality', type=int, default=DEFAULTS.quality,
                      help=f'JPEG/WebP quality unless a request asks (default: {DEFAULTS.quality})')
    http.add_argument('--io-threads', type=int, default=DEFAULTS.io_threads,
                      help=f'threads decoding and encoding photos (default: {DEFAULTS.io_threads})')
    http.add_argument('--log-level', default='info', choices=['critical', 'error', 'warning', 'info', 'debug'])
    return parser


def default_model_name(model):
    path = Path(model)
    parent = path.parent.parent.name if path.parent.name == 'models' else path.parent.name
    return f'{parent}/{path.stem}' if parent else path.stem


def check_args(args):
    for flag, value, low in (('--max-batch', args.max_batch, 1), ('--queue-size', args.queue_size, 1),
                             ('--io-threads', args.io_threads, 1), ('--max-bytes', args.max_bytes, 1)):
        if value < low:
            raise ValueError(f'{flag} must be >= {low}, got {value}')
    for flag, value in (('--max-wait-ms', args.max_wait_ms), ('--timeout-s', args.timeout_s),
                        ('--max-megapixels', args.max_megapixels)):
        if not value > 0 and not (flag == '--max-wait-ms' and value == 0):
            raise ValueError(f'{flag} must be positive, got {value}')
    if not 1 <= args.quality <= 100:
        raise ValueError(f'--quality must be in [1, 100], got {args.quality}')


def backend_of(args):
    """--backend, else onnxruntime for an .onnx --model, else torch."""
    return args.backend or ('onnxruntime' if Path(args.model).suffix.lower() == '.onnx' else 'torch')


def build(args):
    """(Enhancer, ServeConfig) from checked flags (``check_args``); raises with a one-line message what the CLI
    reports."""
    from realestate_sr.inference import network_args
    from realestate_sr.inference.enhancer import Enhancer
    from realestate_sr.inference.postprocess import postprocess_from_args
    from realestate_sr.serve.app import ServeConfig

    postprocess = postprocess_from_args(args)
    network_args.resolve_model_args(args)
    if backend_of(args) == 'onnxruntime':  # the graph tiled_infer.py --backend onnxruntime runs, the same way
        enhancer = Enhancer.from_onnx(args.model, network_args.settings_from_args(args))
    else:
        settings = network_args.settings_from_args(args, args.model)
        enhancer = Enhancer.from_checkpoint(network_args.network_opt_from_args(args, args.model), args.model,
                                            settings, param_key=args.param_key)
    config = ServeConfig(model_name=args.model_name or default_model_name(args.model), max_batch=args.max_batch,
                         max_wait_ms=args.max_wait_ms, queue_size=args.queue_size, timeout_s=args.timeout_s,
                         max_bytes=args.max_bytes, max_megapixels=args.max_megapixels, quality=args.quality,
                         io_threads=args.io_threads, postprocess=postprocess)
    return enhancer, config


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format='%(message)s')
    from realestate_sr.serve.listening import PortInUseError, bind_listening_socket
    from realestate_sr.utils.wording import one_line

    try:
        check_args(args)
        # the address before the model: a port in use is an error now, not after the model loaded
        listening = bind_listening_socket(args.host, args.port)
    except (ValueError, PortInUseError) as err:
        print(f'error: cannot start the service: {err}', file=sys.stderr)
        return 2
    try:
        enhancer, config = build(args)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        listening.close()
        print(f'error: cannot start the service: {one_line(err)}', file=sys.stderr)
        return 2
    for warning in enhancer.warnings():
        LOG.warning('warning: %s', warning)
    import uvicorn  # imported here so that --help and argument errors stay fast

    from realestate_sr.serve.app import create_app
    from realestate_sr.utils.wording import counted

    print(f'serving {config.model_name}: {enhancer.description}, runs {enhancer.settings.describe()}; batches of '
          f'up to {counted(config.max_batch, "photo")} within {config.max_wait_ms:g} ms, queue {config.queue_size}, on '
          f'http://{args.host}:{args.port}/; post-processing: {config.postprocess.describe()}', flush=True)
    # realestate_sr.serve.app logs one line per request; uvicorn's own access log would repeat it
    server = uvicorn.Server(uvicorn.Config(create_app(enhancer, config), host=args.host, port=args.port,
                                           log_level=args.log_level, access_log=False))
    server.run(sockets=[listening])
    return 0


if __name__ == '__main__':
    sys.exit(main())
