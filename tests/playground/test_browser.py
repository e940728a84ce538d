"""The playground in a real browser (headless Chromium): load the page, play and watch the
loss fall, click a neuron and check its ledger against /api/ledger, switch to Chinese,
export the network file (explain prints the same ledger for it) and a PNG. Screenshots of
the page land in the test's temporary folder."""

import json
import time
import urllib.request

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from chainrule.cli import main
from tests.playground.browser import chromium, server


def _all(driver, testid):
    return driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def _id(driver, testid):
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def _get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def _number(text):
    return float(text.replace(",", ""))


def _wait_for_file(path, timeout=30):
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 0):
        assert time.monotonic() < deadline, f"no download {path.name}"
        time.sleep(0.1)
    time.sleep(0.2)  # the last bytes
    return path


def test_the_playground_in_a_real_browser(tmp_path, capsys):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with server() as url, chromium(tmp_path / "profile", downloads) as d:
        wait = WebDriverWait(d, 60)
        d.get(url + "#dataset=xor&hidden=6,6&speed=30")
        wait.until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
        session = d.execute_script("return window.playground.session")
        api = f"{url}api/%s?session={session}"
        first = _number(_id(d, "loss").text)
        assert _get(api % "state")["config"]["hidden"] == [6, 6]  # the URL's settings

        # play: the loss falls, the epoch counter runs, then pause
        _id(d, "play").click()
        wait.until(lambda d: _number(_id(d, "epoch").text) >= 25)
        _id(d, "pause").click()
        wait.until(lambda d: not d.execute_script("return window.playground.playing"))
        time.sleep(0.5)  # the last step message drawn
        state = _get(api % "state")
        assert _number(_id(d, "epoch").text) == state["step"]
        loss = _number(_id(d, "loss").text)
        assert loss < 0.5 * first and abs(loss - state["loss"]) <= 1e-3 * state["loss"]
        assert _id(d, "accuracy").text.startswith(f"{state['accuracy'] * 100:.1f}%")

        # choose a training point, click a neuron: its ledger is /api/ledger's
        sample = next(i for i, p in enumerate(state["points"]) if p[3] == 1 and i > 5)
        _id(d, f"point-{sample}").click()
        _id(d, "neuron-1-2").click()
        wait.until(lambda d: len(_all(d, "ledger-row")) == 7)
        ledger = _get(api % "ledger" + f"&sample={sample}")
        box = _id(d, "ledger")
        where = (box.get_attribute("data-layer"), box.get_attribute("data-sample"))
        assert where == ("1", str(sample))
        neuron = next(n for n in ledger["neurons"] if (n["layer"], n["index"]) == (1, 2))
        for attr, key in [("data-z", "z"), ("data-a", "a"), ("data-sigma-prime", "sigma_prime"),
                          ("data-dl-dz", "dl_dz")]:
            assert float(box.get_attribute(attr)) == neuron[key], attr
        rows = _all(d, "ledger-row")
        incoming = [w for w in ledger["weights"] if (w["layer"], w["to"]) == (1, 2)]
        assert [r.get_attribute("data-from") for r in rows] == [str(w["from"]) for w in incoming]
        for row, w in zip(rows, incoming):
            for attr, key in [("data-value", "value"), ("data-dz-dw", "dz_dw"),
                              ("data-dl-dz", "dl_dz"), ("data-dl-dw", "dl_dw"),
                              ("data-autograd", "autograd"), ("data-numeric", "numeric")]:
                assert float(row.get_attribute(attr)) == w[key], (attr, w)
        batch = _get(api % "ledger" + f"&sample={sample}&batch=1")
        for row, w in zip(rows, [w for w in batch["weights"] if (w["layer"], w["to"]) == (1, 2)]):
            assert float(row.get_attribute("data-batch-dl-dw")) == w["dl_dw"]
        assert "✓" in _id(d, "ledger-agree").text
        assert "case 2: hidden layer" in _id(d, "ledger-case").text
        d.save_screenshot(str(tmp_path / "playground-en.png"))

        # Chinese: the same numbers, the lecture's words
        _id(d, "lang").click()
        wait.until(lambda d: "一、前向传播" in _id(d, "ledger").text)
        assert d.execute_script("return document.documentElement.lang") == "zh-CN"
        assert _id(d, "play").get_attribute("title") == "运行"
        assert "情况 二：隐藏层" in _id(d, "ledger-case").text
        rows = _all(d, "ledger-row")
        shown = [float(r.get_attribute("data-dl-dw")) for r in rows]
        assert shown == [w["dl_dw"] for w in incoming]
        assert "lang=zh" in d.current_url
        d.save_screenshot(str(tmp_path / "playground-zh.png"))

        # export: the network file, which explain reads into the very same ledger; a PNG
        _id(d, "export").click()
        exported = _wait_for_file(downloads / f"playground-point-{sample}.json")
        assert json.loads(exported.read_text()) == _get(api % "export" + f"&sample={sample}")
        capsys.readouterr()
        assert main(["explain", str(exported), "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == ledger
        _id(d, "export-png").click()
        png = _wait_for_file(downloads / "playground.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

        # the backward view: dl/dz and the amplifiers of the same point
        _id(d, "view").click()
        grad = '[data-testid="neuron-1-2"] .grad-text'
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, grad).text)
        shown = d.find_element(By.CSS_SELECTOR, grad).text
        assert float(shown) == float(f"{neuron['dl_dz']:.3g}")
        d.save_screenshot(str(tmp_path / "playground-backward-zh.png"))

        # the hover card reads a weight and edits it
        _id(d, "view").click()  # back to the forward view
        ActionChains(d).move_to_element(_id(d, "bias-2-0")).perform()
        card = _id(d, "weight-card")
        wait.until(lambda d: card.is_displayed())
        assert card.text.startswith("第 2 层：b[0]")
        value = _id(d, "weight-input")
        assert float(value.get_attribute("value")) == _get(api % "state")["layers"][2]["bias"][0]
        value.click()
        value.send_keys(Keys.CONTROL, "a")
        value.send_keys("0.625", Keys.ENTER)
        wait.until(lambda d: _get(api % "state")["layers"][2]["bias"][0] == 0.625)

        # your own CSV: a bad file gets a message and changes nothing; a good one is used
        bad = tmp_path / "bad.csv"
        bad.write_text("x1,x2,label\n1,2\n")
        _id(d, "csv-input").send_keys(str(bad))
        wait.until(lambda d: "bad.csv: csv: line 2" in _id(d, "message").text)
        assert _get(api % "state")["config"]["dataset"] == "xor"
        good = tmp_path / "good.csv"
        good.write_text("\n".join(f"{i % 9 - 4},{i % 7 - 3},{i % 3}" for i in range(90)))
        d.execute_script("document.getElementById('csv-input').value = ''")
        _id(d, "csv-input").send_keys(str(good))
        wait.until(lambda d: _get(api % "state")["config"]["dataset"] == "csv")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-testid^="point-"]')) == 90)
        assert _id(d, "message").text == ""
        assert len(d.find_elements(By.CSS_SELECTOR, '[data-testid^="neuron-2-"]')) == 3  # softmax

        # a second tab is a session of its own
        first_tab = d.current_window_handle
        d.switch_to.new_window("tab")
        d.get(url + "#dataset=gauss")
        wait.until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
        assert d.execute_script("return window.playground.session") != session
        assert _id(d, "epoch").text == "000,000"
        assert _get(api % "state")["config"]["dataset"] == "csv"  # the first tab's, untouched
        d.close()
        d.switch_to.window(first_tab)

        # the one failed request was the bad CSV's 400, answered on the page
        errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"
                  and not ("/api/data" in e["message"] and "400" in e["message"])]
        assert not errors, errors


def _post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def test_a_planted_dead_layer_is_marked_on_the_page(tmp_path):
    with server() as url, chromium(tmp_path / "profile", tmp_path) as d:
        wait = WebDriverWait(d, 60)
        d.get(url + "#dataset=circle&hidden=4,3&activation=relu")
        wait.until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
        api = f"{url}api/%s?session={d.execute_script('return window.playground.session')}"
        marks = 'g[data-testid^="health-"]'
        assert len(d.find_elements(By.CSS_SELECTOR, marks)) == 4 + 3  # hidden neurons only
        assert not [m for m in d.find_elements(By.CSS_SELECTOR, marks) if m.is_displayed()]

        for j in range(4):  # every bias of the first hidden layer to -10: no ReLU fires
            _post(api % "weight", {"layer": 0, "to": j, "from": "bias", "value": -10})
        _id(d, "step").click()  # one epoch: the dead stay dead (no gradient reaches them)
        wait.until(lambda d: _number(_id(d, "epoch").text) == 1)
        health = _get(api % "state")["health"]
        assert [n["mark"] for n in health[0]] == ["dead"] * 4
        for j in range(4):
            mark = _id(d, f"health-0-{j}")
            wait.until(lambda d, m=mark: m.is_displayed())
            assert mark.get_attribute("data-mark") == "dead"
            tip = mark.find_element(By.CSS_SELECTOR, "title").get_attribute("textContent")
            assert tip.startswith("Dead: this ReLU is 0 on every training point") and "help:" in tip
        for j in range(3):  # the page shows exactly the server's marks
            shown = _id(d, f"health-1-{j}").get_attribute("data-mark")
            assert shown == (health[1][j]["mark"] or "")
        d.save_screenshot(str(tmp_path / "playground-health-en.png"))

        _id(d, "lang").click()
        mark = _id(d, "health-0-0")
        wait.until(lambda d: mark.find_element(By.CSS_SELECTOR, "text").text == "死")
        assert "help：" in mark.find_element(By.CSS_SELECTOR, "title").get_attribute("textContent")
        d.save_screenshot(str(tmp_path / "playground-health-zh.png"))
