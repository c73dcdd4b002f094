"""The page at ``/``: upload a photo, compare before and after with a slider, download the result.

One self-contained HTML document (inline CSS and script, no external assets), so it works on a machine
without internet and behind any proxy. A photo given in the URL fragment as a data URL
(``/#data:image/png;base64,...``) is enhanced on load exactly as an uploaded one: that is how a link can
carry a sample photo, and how the headless-browser test drives the page without a file dialog.
"""

PAGE_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Listing photo enhancement</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; padding: 16px 24px; background: #f4f4f2; color: #222; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  .controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin-bottom: 12px; }
  #status { margin: 8px 0; min-height: 1.2em; }
  #status.error { color: #b00020; }
  #viewer { display: none; max-width: 100%; }
  #compare { position: relative; user-select: none; background: #ccc; }
  #before { display: block; max-width: 100%; height: auto; }
  #after { position: absolute; top: 0; left: 0; width: 100%; height: 100%; clip-path: inset(0 0 0 50%); }
  #divider { position: absolute; top: 0; bottom: 0; left: 50%; width: 2px; background: #fff;
             box-shadow: 0 0 3px rgba(0,0,0,.6); pointer-events: none; }
  .tag { position: absolute; top: 8px; padding: 2px 8px; background: rgba(0,0,0,.55); color: #fff;
         font-size: 13px; border-radius: 3px; }
  #tag-before { left: 8px; } #tag-after { right: 8px; }
  #slider { width: 100%; margin: 8px 0; }
  #download { display: none; }
</style>
</head>
<body>
<h1>Listing photo enhancement</h1>
<div class="controls">
  <input type="file" id="file" accept="image/jpeg,image/png,image/tiff,image/webp,image/bmp">
  <label>output <select id="format">
    <option value="jpeg">JPEG</option><option value="png">PNG</option><option value="same">same as input</option>
  </select></label>
  <a id="download" href="#" download="enhanced.jpg">Download the enhanced photo</a>
</div>
<div id="status">Choose a photo (JPEG, PNG, TIFF, WebP or BMP).</div>
<div id="viewer">
<div id="compare">
  <img id="before" alt="before">
  <img id="after" alt="after">
  <div id="divider"></div>
  <span class="tag" id="tag-before">before</span><span class="tag" id="tag-after">after</span>
</div>
<input type="range" id="slider" min="0" max="100" value="50" aria-label="before / after">
</div>
<script>
(function () {
  const $ = (id) => document.getElementById(id);
  const status = (text, isError) => { $('status').textContent = text; $('status').className = isError ? 'error' : ''; };
  let urls = [];

  function loaded(img) {
    return new Promise((resolve, reject) => {
      if (img.complete && img.naturalWidth > 0) { resolve(); return; }
      img.onload = () => resolve();
      img.onerror = () => reject(new Error('the browser cannot display this image (TIFF?); download it instead'));
    });
  }

  function setSlider(value) {
    $('after').style.clipPath = 'inset(0 0 0 ' + value + '%)';
    $('divider').style.left = value + '%';
  }

  async function enhance(blob, name) {
    urls.forEach(URL.revokeObjectURL); urls = [];
    document.body.dataset.state = 'working';
    status('Enhancing ' + name + ' ...');
    const started = performance.now();
    try {
      const response = await fetch('/v1/enhance?format=' + encodeURIComponent($('format').value), {
        method: 'POST', body: blob, headers: {'Content-Type': blob.type || 'application/octet-stream'}});
      if (!response.ok) {
        let detail = response.statusText;
        try { const body = await response.json(); detail = body.error + ': ' + body.detail; } catch (e) {}
        throw new Error(detail);
      }
      const result = await response.blob();
      const beforeUrl = URL.createObjectURL(blob), afterUrl = URL.createObjectURL(result);
      urls = [beforeUrl, afterUrl];
      $('before').src = beforeUrl; $('after').src = afterUrl;
      $('viewer').style.display = 'inline-block';
      const disposition = response.headers.get('Content-Disposition') || '';
      const match = disposition.match(/filename="([^"]+)"/);
      $('download').href = afterUrl; $('download').download = match ? match[1] : 'enhanced';
      $('download').style.display = 'inline';
      await Promise.all([loaded($('before')), loaded($('after'))]);
      const seconds = ((performance.now() - started) / 1000).toFixed(2);
      status('before ' + $('before').naturalWidth + 'x' + $('before').naturalHeight + ', after ' +
             $('after').naturalWidth + 'x' + $('after').naturalHeight + ' (' + (response.headers.get('X-Model') || '') +
             ', ' + seconds + ' s)');
      document.body.dataset.state = 'done';
    } catch (err) {
      status('Failed: ' + err.message, true);
      document.body.dataset.state = 'failed';
    }
  }

  $('file').addEventListener('change', () => { const file = $('file').files[0]; if (file) enhance(file, file.name); });
  $('slider').addEventListener('input', () => setSlider($('slider').value));
  setSlider(50);
  if (location.hash.startsWith('#data:')) {
    fetch(location.hash.slice(1)).then((r) => r.blob()).then((blob) => enhance(blob, 'the linked photo'));
  }
})();
</script>
</body>
</html>
"""
