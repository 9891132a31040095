"""The HTML report in a real browser (issue 14, item 8): headless Chromium opens the
report with networking blocked, takes a screenshot, and the test checks that every
chart drew something where the page put it, that the page asks for nothing from the
network, and that Chinese text is drawn with real glyphs rather than the "tofu" boxes
of a missing font.

Chromium is Debian's `chromium` (with `fonts-noto-cjk` for Chinese); `.ci/run`
installs both when missing. Without it the tests skip saying so, except under CI=true,
where a missing browser fails the run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from analytics_fixture import add_deals, analytics, build

from crm_tui import i18n
from crm_tui.api import Crm
from crm_tui.domain.orders import LineSpec
from crm_tui.report import render

WIDTH = 1280
# Networking off: every host name resolves to nothing, and any request that still
# went out would meet a proxy on a port nothing listens on.
NO_NETWORK = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
              "--proxy-bypass-list=<-loopback>"]

# Run in the page before the dump: where each chart is, how tall the page is, and
# whether two different CJK characters draw differently in the page's own font (with
# no CJK font both are the same missing-glyph box).
PROBE = """<script>
window.addEventListener('load', () => {
  const box = (s) => {
    const r = s.getBoundingClientRect();
    return [r.left + scrollX, r.top + scrollY, r.width, r.height];
  };
  const boxes = [...document.querySelectorAll('svg')].map(box);
  const tables = [...document.querySelectorAll('table')].map(box);
  const font = getComputedStyle(document.body).fontFamily;
  const glyph = (ch) => {
    const c = document.createElement('canvas'); c.width = 40; c.height = 40;
    const g = c.getContext('2d'); g.font = '32px ' + font; g.fillText(ch, 2, 32);
    return Array.from(g.getImageData(0, 0, 40, 40).data).join(',');
  };
  const [a, b] = [...(document.body.dataset.chars || '销售')];
  const probe = {boxes, tables, height: document.documentElement.scrollHeight,
                 cjkDistinct: glyph(a) !== glyph(b), cjkInk: glyph(a) !== glyph(' '),
                 tofuLike: glyph(a) === glyph('\\u0378')};
  document.body.setAttribute('data-probe', JSON.stringify(probe));
});
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but chromium is not installed: .ci/run installs it (apt-get install chromium "
                    "fonts-noto-cjk)")
    pytest.skip("no chromium on this machine: `apt-get install chromium fonts-noto-cjk` to run the browser tests")


def browse(page: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", "--disable-dev-shm-usage", *NO_NETWORK,
           f"--user-data-dir={page.parent / 'chromium-profile'}", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def probe(page_html: str, tmp_path: Path) -> dict:
    probed = tmp_path / "probe.html"
    probed.write_text(page_html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = browse(probed, "--virtual-time-budget=3000", f"--window-size={WIDTH},900", "--dump-dom")
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert found, f"chromium printed no probe: {done.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def screenshot(page: Path, height: int) -> object:
    from PIL import Image

    shot = page.with_suffix(".png")
    done = browse(page, f"--window-size={WIDTH},{height}", f"--screenshot={shot}")
    assert shot.exists(), f"no screenshot: {done.stderr[-2000:]}"
    return Image.open(shot).convert("L")


def ink(image: object, box: list[float]) -> tuple[float, float]:
    """Variance of the grey levels in `box`, and the share of pixels that are not
    the background: a chart that drew nothing is one flat colour."""
    from PIL import ImageStat

    left, top, width, height = (round(v) for v in box)
    region = image.crop((left, top, left + width, top + height))
    stat = ImageStat.Stat(region)
    pixels = list(region.getdata())
    background = max(set(pixels), key=pixels.count)
    return stat.var[0], sum(1 for p in pixels if abs(p - background) > 16) / len(pixels)


def report_page(crm: Crm, lang: str) -> str:
    ids = build(crm)
    add_deals(crm, ids)
    i18n.set_language(lang)
    return render(analytics(crm).report_data("2026-Q3"), "html")


def external_urls(page_html: str) -> list[str]:
    """URLs the page would fetch: anything http(s) outside an xmlns namespace name
    (which names a vocabulary and is never fetched)."""
    without_ns = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page_html)
    return re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'<>)]*", without_ns)


def needs_nothing_from_outside(page_html: str) -> None:
    """No URL to fetch, nothing that loads (scripts, styles, images, frames)."""
    assert external_urls(page_html) == []
    assert not re.search(r"<(script|link|iframe|img|object)\b|@import|url\(", page_html)


def draws_real_glyphs(info: dict) -> None:
    """Chinese drawn in a font that has it: ink, two characters that differ, no box."""
    assert info["cjkInk"] and info["cjkDistinct"] and not info["tofuLike"], info


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_html_report_draws_its_charts_offline(crm: Crm, tmp_path: Path, lang: str) -> None:
    chromium()
    page_html = report_page(crm, lang)
    needs_nothing_from_outside(page_html)
    info = probe(page_html, tmp_path)
    assert len(info["boxes"]) == page_html.count("<svg") >= 6
    page = tmp_path / "report.html"
    page.write_text(page_html, encoding="utf-8")
    image = screenshot(page, min(int(info["height"]) + 20, 12000))
    for box in info["boxes"]:
        assert box[2] > 100 and box[3] > 80, box  # laid out, not collapsed
        variance, share = ink(image, box)
        assert variance > 100 and 0.01 < share < 0.9, (box, variance, share)
    # the white margin beside the charts is blank: the measure can tell the two apart
    right_margin = [WIDTH - 60, info["boxes"][0][1], 40, info["boxes"][0][3]]
    assert ink(image, right_margin)[1] == 0
    if lang == "zh":
        draws_real_glyphs(info)


def test_the_probe_sees_a_blank_chart_and_a_missing_font(tmp_path: Path) -> None:
    """The checks can fail: an empty SVG box has no ink, and characters no installed
    font has (two unassigned code points stand for CJK without a CJK font) draw the
    same missing-glyph box, which the probe reports as not distinct and tofu-like."""
    chromium()
    page_html = ('<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
                 '<body data-chars="\u0380\u0381"><svg width="300" height="200"></svg><p>销售</p></body></html>')
    info = probe(page_html, tmp_path)
    assert not info["cjkDistinct"] and info["tofuLike"], info
    page = tmp_path / "blank.html"
    page.write_text(page_html, encoding="utf-8")
    image = screenshot(page, 400)
    variance, share = ink(image, info["boxes"][0])
    assert variance < 1 and share == 0
    assert external_urls('<a href="https://cdn.example.com/x.js">') == ["https://cdn.example.com/x.js"]


# -- a rendered quotation -----------------------------------------------------------------

def quotation_file(db: Path, tmp_path: Path, lang: str) -> Path:
    """A quotation made the way a rep makes one, rendered by `crm quotes render ID
    --format html -o FILE` in `lang`."""
    from typer.testing import CliRunner

    from crm_tui.cli import app

    with Crm(db, rep="wang", create=True) as crm:
        customer = crm.customers.create({"name": "李娜", "company": "南方食品"})
        crm.products.create({"sku": "SN-100", "name": "传感器", "list_price": 1200})
        deal = crm.opportunities.create({"customer_id": customer["id"], "title": "生产线改造", "amount": 50000,
                                         "stage": "proposal", "product_ids": "SN-100"})
        quote = crm.quote_book.add({"opportunity_id": deal["id"], "terms": "付款：预付30%"},
                                   [LineSpec("SN-100", "3", None, "5"), LineSpec("安装调试费", "1", "800")])
    out = tmp_path / f"quote-{lang}.html"
    done = CliRunner().invoke(app, ["--db", str(db), "quotes", "render", quote["id"], "--format", "html",
                                    "-o", str(out)], env={"CRM_LANG": lang})
    assert done.exit_code == 0, done.output
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_rendered_quotation_prints_offline_with_real_glyphs(db_path: Path, tmp_path: Path, lang: str) -> None:
    chromium()
    page = quotation_file(db_path, tmp_path, lang)
    page_html = page.read_text(encoding="utf-8")
    needs_nothing_from_outside(page_html)
    assert ("报价单" if lang == "zh" else "Quotation") in page_html and "4,220.00" in page_html
    info = probe(page_html, tmp_path)
    assert info["tables"], "the quotation's lines are a table"
    image = screenshot(page, min(int(info["height"]) + 20, 4000))
    assert max(box[2] for box in info["tables"]) > 600, info["tables"]  # the lines laid out across the page
    for box in info["tables"]:
        variance, share = ink(image, box)
        assert variance > 100 and 0.01 < share < 0.9, (box, variance, share)  # its text drawn
    draws_real_glyphs(info)  # the customer, the products and (in zh) every heading are Chinese
