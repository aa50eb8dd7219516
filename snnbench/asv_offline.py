"""An asv plugin: `asv publish` writes a site that works without internet access.

asv's published index.html loads jQuery, flot, Bootstrap and a few small libraries from CDNs, so
on a machine (or a CI runner) that reaches only package registries the page stays empty.
install.sh installs the same libraries from npm into web/node_modules; this plugin, named in
asv.conf.json's "plugins", wraps asv's publish command: after asv has written the site, the
libraries are copied into <html_dir>/vendor/ and index.html is pointed at those copies.
When the npm packages are missing the site is left as asv wrote it (it then needs the CDNs).

asv's page also fetches its JSON (index, graphs, regressions) with XMLHttpRequest, which browsers
refuse for pages opened from disk (file://). The plugin therefore also writes the site's JSON
into vendor/snnbench-site-data.js, with a jQuery transport that answers those requests from it:
the page works served (`asv preview`, any web server) and opened directly from disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

NODE_MODULES = Path(os.environ.get("SNNBENCH_WEB_MODULES", Path(__file__).resolve().parents[1] / "web" / "node_modules"))

# CDN address in asv's index.html -> the file in node_modules that replaces it.
ASSETS = {
    "https://code.jquery.com/jquery-3.3.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": "flot/jquery.flot.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js": "flot/jquery.flot.time.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js": "flot/jquery.flot.selection.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js": "flot/jquery.flot.categories.js",
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js": "flot-orderbars/js/jquery.flot.orderBars.js",
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js": "stupid-table-plugin/stupidtable.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js": "blueimp-md5/js/md5.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
}
# Bootstrap's stylesheet refers to its fonts as ../fonts/: they travel with it.
EXTRA_DIRS = ["bootstrap/dist/fonts"]

# The subresource-integrity attributes name the CDN files; the local copies are served as they are.
_SRI = re.compile(r'\s+(integrity|crossorigin|referrerpolicy)="[^"]*"')


def vendor_site(html_dir: str | Path, node_modules: Path = NODE_MODULES) -> list[str]:
    """Copy the libraries into html_dir/vendor and rewrite index.html; return what was replaced."""
    html_dir = Path(html_dir)
    index = html_dir / "index.html"
    missing = [rel for rel in ASSETS.values() if not (node_modules / rel).exists()]
    if not index.exists() or missing:
        return []
    vendor = html_dir / "vendor"
    for rel in list(ASSETS.values()):
        target = vendor / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(node_modules / rel, target)
    for rel in EXTRA_DIRS:
        shutil.copytree(node_modules / rel, vendor / rel, dirs_exist_ok=True)
    _write_site_data(html_dir, vendor / "snnbench-site-data.js")
    text = index.read_text()
    replaced = []
    for url, rel in ASSETS.items():
        if url in text:
            text = text.replace(url, f"vendor/{rel}")
            replaced.append(url)
    lines = [_SRI.sub("", line) if "vendor/" in line else line for line in text.splitlines(keepends=True)]
    text = "".join(lines)
    jquery = f'<script src="vendor/{ASSETS["https://code.jquery.com/jquery-3.3.1.min.js"]}"'
    data_tag = '<script src="vendor/snnbench-site-data.js"></script>'
    if data_tag not in text and jquery in text:
        end = text.index("</script>", text.index(jquery)) + len("</script>")
        text = text[:end] + "\n    " + data_tag + text[end:]
    index.write_text(text)
    return replaced


_TRANSPORT = """
(function ($) {
  // Answer the page's requests for its own JSON from SNNBENCH_ASV_DATA (file:// forbids XHR).
  $.ajaxTransport("+*", function (options) {
    var path = options.url.split("?")[0].split("#")[0].replace(/^\\.\\//, "");
    var data = window.SNNBENCH_ASV_DATA;
    if (!Object.prototype.hasOwnProperty.call(data, path)) { return; }
    var timer = null;
    return {
      send: function (headers, complete) {
        var body = data[path];
        // Answer later, as a real request would: asv registers its pages after starting requests.
        timer = setTimeout(function () {
          complete(200, "OK", {text: typeof body === "string" ? body : JSON.stringify(body)});
        }, 0);
      },
      abort: function () { clearTimeout(timer); }
    };
  });
})(jQuery);
"""


def _write_site_data(html_dir: Path, target: Path) -> None:
    data: dict[str, object] = {"swallow.ico": ""}  # asv probes this file to see whether the server is up
    for path in sorted(html_dir.rglob("*.json")):
        rel = path.relative_to(html_dir).as_posix()
        if not rel.startswith("vendor/"):
            data[rel] = json.loads(path.read_text())
    target.write_text("/* Written by snnbench/asv_offline.py from the site's JSON files. */\n"
                      "window.SNNBENCH_ASV_DATA = " + json.dumps(data, separators=(",", ":")) + ";\n" + _TRANSPORT)


def setup() -> None:
    """Called by asv when it loads this plugin: wrap `asv publish`."""
    from asv.commands.publish import Publish
    from asv.console import log

    original = Publish.run.__func__
    if getattr(original, "_snnbench_offline", False):
        return

    def run(cls, conf, *args, **kwargs):
        result = original(cls, conf, *args, **kwargs)
        replaced = vendor_site(conf.html_dir)
        if replaced:
            log.info(f"snnbench: {len(replaced)} CDN libraries served from {conf.html_dir}/vendor (works offline)")
        else:
            log.warning(f"snnbench: {NODE_MODULES} lacks the web libraries (run install.sh): the site needs the CDNs")
        return result

    run._snnbench_offline = True
    Publish.run = classmethod(run)
