"""The counter page end to end in a real browser: Debian's headless Chromium (driven by Playwright) on the
page, the counter reading a virtual chip through a private pcscd and the vpcd virtual reader.

Each state is kept as a 1366x768 screenshot under ``test-artifacts/counter/`` for people to look at.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from cardtool.counter.server import TOKEN_HEADER, CounterServer, running_counter
from cardtool.counter.session import CardState, CounterSession, PCSCCardSource
from playwright.sync_api import BrowserContext, Page, ViewportSize, expect, sync_playwright
from vpcd_cards import DelegatingCard

from cardlib.card.image import CardImage
from cardlib.card.perso import personalize, sign_data_groups
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.chip.vpcd import VpcdCard, vpcd_card
from cardlib.lds.com import EFCOM
from cardlib.model.resident import Resident
from cardlib.pki.trust import TrustStore
from cardlib.reader.pcsc import NoCardError, NoServiceError, wait_for_card
from cardlib.reader.transport import CardRemovedError, InProcessTransport, Transport
from cardlib.testing.cards import forge_dg13_expiry, sample_card_image, sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pcscd import PcscdInstance
from cardlib.testing.pki import sample_pki

pytestmark = [pytest.mark.browser, pytest.mark.pcsc]  # headless Chromium on a counter fed by pcscd

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "counter"
SCREEN: ViewportSize = {"width": 1366, "height": 768}
HOLDER = "Nguyễn Thị Thu Hương"
WAIT_MS = 15_000


class SlowCard(DelegatingCard):
    """A virtual chip that takes ``delay`` seconds per APDU, so the page's reading state can be seen."""

    def __init__(self, chip: VirtualChip, delay: float) -> None:
        super().__init__(chip)
        self.delay = delay

    def process(self, raw: bytes) -> bytes:
        time.sleep(self.delay)
        return self.chip.process(raw)


@pytest.fixture(scope="module")
def image() -> CardImage:
    return sample_card_image(3)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport=SCREEN)
        yield context
        context.close()


@pytest.fixture()
def page(browser: BrowserContext) -> Iterator[Page]:
    opened = browser.new_page()
    opened.set_default_timeout(WAIT_MS)
    yield opened
    opened.close()


@contextmanager
def counter(pcscd: PcscdInstance, trust: TrustStore, *, reader: str | None = None,
            save_dir: Path | None = None) -> Iterator[CounterServer]:
    source = PCSCCardSource(reader or pcscd.reader_name)
    with running_counter(CounterSession(source, trust, save_dir=save_dir), source) as server:
        yield server


@contextmanager
def card_on_reader(pcscd: PcscdInstance, card: VpcdCard) -> Iterator[None]:
    """``card`` on the virtual reader for the block; afterwards, wait until pcscd has seen it go."""
    with vpcd_card(card, port=pcscd.port):
        yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            wait_for_card(pcscd.reader_name)
        except NoCardError:
            return
        time.sleep(0.05)
    raise AssertionError("pcscd still sees the card that was taken off")


def _can(image: CardImage) -> str:
    assert image.secrets is not None
    return image.secrets.can


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _fits_the_screen(page: Page) -> None:
    """The main state is usable at 1366x768 without scrolling."""
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= SCREEN["height"], f"page is {height} px high"


def _pill_follows_the_verdict(page: Page) -> None:
    """The status pill is painted in the verdict's colours (a forgery's pill is not green)."""
    colours = page.evaluate("""() => [document.getElementById('reader-state'), document.getElementById('verdict')]
        .map(node => [getComputedStyle(node).backgroundColor, getComputedStyle(node).color])""")
    assert colours[0] == colours[1], colours


def _server_state(server: CounterServer) -> dict[str, object]:
    request = urllib.request.Request(server.origin + "/api/state", headers={"Host": f"127.0.0.1:{server.port}",
                                                                          TOKEN_HEADER: server.token})
    with urllib.request.urlopen(request, timeout=5) as response:
        state: dict[str, object] = json.load(response)
    return state


def _read_with_can(page: Page, can: str) -> None:
    expect(page.locator("#screen-card")).to_be_visible()
    page.fill("#can", can)
    page.press("#can", "Enter")


def test_no_reader_state(page: Page, pcscd: PcscdInstance, trust: TrustStore) -> None:
    with counter(pcscd, trust, reader="Reader Not Plugged In") as server:
        page.goto(server.url)
        expect(page.locator("#screen-no_reader")).to_be_visible()
        expect(page.locator("#reader-state")).to_have_text("Chưa có đầu đọc")
        _shot(page, "00-no-reader")


def test_genuine_card_from_waiting_to_verdict_then_removed(page: Page, pcscd: PcscdInstance, image: CardImage,
                                                          trust: TrustStore) -> None:
    with counter(pcscd, trust) as server:
        page.goto(server.url)
        expect(page.locator("#screen-waiting")).to_be_visible()
        expect(page.locator("#reader-state")).to_have_text("Đang chờ thẻ")
        _shot(page, "01-waiting")
        with card_on_reader(pcscd, SlowCard(VirtualChip(image, ChipOptions(extended_length=False)), 0.03)):
            expect(page.locator("#screen-card")).to_be_visible()
            expect(page.locator("#can")).to_be_focused()
            _shot(page, "02-card-enter-can")
            _read_with_can(page, _can(image))
            expect(page.locator("#screen-reading")).to_be_visible()
            expect(page.locator("#steps li.current")).to_have_text("Đọc dữ liệu")
            _shot(page, "03-reading")
            expect(page.locator("#screen-done")).to_be_visible()
            expect(page.locator("#verdict")).to_have_attribute("data-outcome", "genuine")
            expect(page.locator("#verdict-title")).to_have_text("THẺ THẬT")
            expect(page.locator('dd[data-field="full_name"]')).to_have_text(HOLDER)
            expect(page.locator('dd[data-field="mother_name"]')).to_have_text("Trần Thị Lan")
            expect(page.locator("#portrait")).to_have_js_property("naturalWidth", 360)
            assert page.input_value("#can") == "" and _can(image) not in page.url
            box = page.locator("#portrait").bounding_box()
            assert box is not None and box["width"] >= 300 and box["height"] >= 400  # 2x the old 150x200
            _pill_follows_the_verdict(page)
            _fits_the_screen(page)
            _shot(page, "04-genuine")
        expect(page.locator("#screen-waiting")).to_be_visible()
        expect(page.locator("#holder-fields dd")).to_have_count(0)
        assert HOLDER not in page.content() and page.locator("#portrait").get_attribute("src") is None
        assert _server_state(server)["result"] is None and server.session.portrait() is None
        _shot(page, "05-card-removed-holder-gone")


def test_wrong_can_says_what_to_do(page: Page, pcscd: PcscdInstance, image: CardImage, trust: TrustStore) -> None:
    with counter(pcscd, trust) as server, card_on_reader(pcscd, VirtualChip(image)):
        page.goto(server.url)
        _read_with_can(page, "000000")
        notice = page.locator("#notice-text")
        expect(notice).to_contain_text("Số CAN không đúng với thẻ này")
        expect(page.locator("#screen-card")).to_be_visible()
        expect(page.locator("#can")).to_be_focused()
        _shot(page, "06-wrong-can")


def test_card_pulled_mid_read(page: Page, pcscd: PcscdInstance, image: CardImage, trust: TrustStore) -> None:
    with counter(pcscd, trust) as server:
        page.goto(server.url)
        with card_on_reader(pcscd, SlowCard(VirtualChip(image, ChipOptions(extended_length=False)), 0.05)):
            _read_with_can(page, _can(image))
            expect(page.locator("#steps li.current")).to_have_text("Đọc dữ liệu")
        expect(page.locator("#notice-text")).to_contain_text("Thẻ đã bị nhấc ra trước khi đọc xong")
        expect(page.locator("#screen-waiting")).to_be_visible()
        assert _server_state(server)["result"] is None
        _shot(page, "07-removed-mid-read")


def test_forged_card_is_not_genuine(page: Page, pcscd: PcscdInstance, image: CardImage, trust: TrustStore) -> None:
    with counter(pcscd, trust) as server, card_on_reader(pcscd, VirtualChip(forge_dg13_expiry(image))):
        page.goto(server.url)
        _read_with_can(page, _can(image))
        expect(page.locator("#verdict")).to_have_attribute("data-outcome", "not_genuine")
        expect(page.locator("#verdict-title")).to_have_text("THẺ KHÔNG HỢP LỆ")
        expect(page.locator("#verdict-reasons")).to_contain_text(
            "Phần thông tin công dân trên chip đã bị thay đổi sau khi cấp thẻ.")
        expiry = page.locator('dd[data-field="date_of_expiry"]')
        expect(expiry).to_have_attribute("data-mark", "fail")
        expect(expiry).to_contain_text("không đạt kiểm tra")
        expect(page.locator("#altered")).to_contain_text("đã bị sửa sau khi cấp thẻ")
        _pill_follows_the_verdict(page)
        page.click("#details summary")
        rows = page.locator("#checks tbody tr")
        expect(rows.first).to_have_class("status-fail")
        statuses = rows.evaluate_all("rows => rows.map(row => row.className)")
        first_other = next(index for index, status in enumerate(statuses) if status != "status-fail")
        assert "status-fail" not in statuses[first_other:], statuses  # every failed check before the rest
        cross = page.locator('#checks tr[data-check="cross.date_of_expiry"]')
        expect(cross).to_contain_text("Ngày hết hạn khớp giữa vùng đọc máy và thông tin công dân")
        expect(cross).to_contain_text("KHÔNG ĐẠT")
        assert "DG1 says" not in page.locator("#checks").inner_text()  # no English on the Vietnamese page
        _fits_the_screen(page)
        _shot(page, "08-forged-not-genuine")
        page.click("#lang")
        expect(cross).to_contain_text("Expiry agrees between the MRZ and the personal data")
        expect(cross.locator("small")).to_contain_text("DG1 says")
        _shot(page, "08b-forged-details-english")


def test_unknown_csca_cannot_tell_in_english(page: Page, pcscd: PcscdInstance, image: CardImage) -> None:
    with counter(pcscd, TrustStore.load()) as server, card_on_reader(pcscd, VirtualChip(image)):
        page.goto(server.url)
        expect(page.locator("#trust-warning")).to_contain_text("mọi kết quả sẽ là “CHƯA XÁC ĐỊNH ĐƯỢC”")
        expect(page.locator("#trust-warning")).to_contain_text("--trust")
        _read_with_can(page, _can(image))
        expect(page.locator("#verdict")).to_have_attribute("data-outcome", "cannot_tell")
        expect(page.locator("#verdict-title")).to_have_text("CHƯA XÁC ĐỊNH ĐƯỢC")
        page.click("#lang")
        expect(page.locator("#verdict-title")).to_have_text("CANNOT TELL")
        expect(page.locator("#verdict-reasons")).to_contain_text("root certificate (CSCA) is not in this counter's")
        expect(page.locator("#trust-warning")).to_contain_text("every verdict will be “CANNOT TELL”")
        _pill_follows_the_verdict(page)
        expect(page.locator('dd[data-field="sex"]')).to_have_text("Female")
        expect(page.locator("#holder-fields dt").first).to_have_text("Full name")
        assert page.evaluate("document.documentElement.lang") == "en"
        _fits_the_screen(page)
        _shot(page, "09-cannot-tell-english")


def test_keyboard_only_check_and_saved_report(page: Page, pcscd: PcscdInstance, image: CardImage,
                                              trust: TrustStore, tmp_path: Path) -> None:
    with counter(pcscd, trust, save_dir=tmp_path) as server, card_on_reader(pcscd, VirtualChip(image)):
        page.goto(server.url)
        expect(page.locator("#can")).to_be_focused()
        page.keyboard.type(_can(image))
        page.keyboard.press("Enter")
        expect(page.locator("#verdict")).to_be_focused()
        expect(page.locator("#verdict")).to_have_attribute("data-outcome", "genuine")
        page.keyboard.press("Tab")
        expect(page.locator("#new-check")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.locator("#save")).to_be_focused()
        assert list(tmp_path.iterdir()) == []  # nothing written until the officer saves
        page.keyboard.press("Enter")
        expect(page.locator("#saved")).to_contain_text("card-check-")
        saved = json.loads(next(tmp_path.iterdir()).read_text(encoding="utf-8"))
        assert saved["outcome"] == "genuine" and saved["holder"]["full_name"] == HOLDER
        page.keyboard.press("Alt+l")
        expect(page.locator("#verdict-title")).to_have_text("GENUINE")
        _shot(page, "10-keyboard-saved-english")
        page.keyboard.press("Alt+n")
        expect(page.locator("#screen-card")).to_be_visible()
        expect(page.locator("#can")).to_be_focused()
        assert _server_state(server)["result"] is None
        expect(page.locator("#shortcuts, footer")).to_contain_text("Alt+N")


def test_page_opened_without_its_token_says_how_to_open_it(page: Page, pcscd: PcscdInstance, image: CardImage,
                                                          trust: TrustStore) -> None:
    with counter(pcscd, trust) as server, card_on_reader(pcscd, VirtualChip(image)):
        page.goto(server.origin + "/")
        expect(page.locator("#notice-text")).to_contain_text("cardtool counter")
        expect(page.locator("#reader-state")).to_have_text("Mất kết nối")
        expect(page.locator("#screen-card")).to_be_hidden()
        page.click("#lang")
        expect(page.locator("#notice-text")).to_contain_text("Open the full address printed by cardtool counter")
        _shot(page, "11-opened-without-token")


def _personalized(resident: Resident, index: int) -> CardImage:
    return personalize(resident, synthetic_portrait_jpeg(index), sample_pki().document_signer)


def test_an_expired_genuine_card_says_so_on_the_verdict_line(page: Page, pcscd: PcscdInstance,
                                                            trust: TrustStore) -> None:
    expired = _personalized(replace(sample_resident(4), date_of_expiry=date(2025, 7, 2)), 4)
    with counter(pcscd, trust) as server, card_on_reader(pcscd, VirtualChip(expired)):
        page.goto(server.url)
        _read_with_can(page, _can(expired))
        expect(page.locator("#verdict-title")).to_have_text("THẺ THẬT — đã hết hạn ngày 02/07/2025")
        expect(page.locator("#verdict")).to_have_attribute("data-outcome", "genuine")
        expect(page.locator('dd[data-field="date_of_expiry"]')).to_have_attribute("data-mark", "warn")
        expect(page.locator("#verdict-reasons li").first).to_have_text(
            "Thẻ là thật nhưng đã hết hạn ngày 02/07/2025: công dân cần làm thủ tục cấp đổi thẻ.")
        _pill_follows_the_verdict(page)
        _fits_the_screen(page)
        _shot(page, "12-expired-genuine")
        page.click("#lang")
        expect(page.locator("#verdict-title")).to_have_text("GENUINE — expired on 02/07/2025")
        page.click("#details summary")
        expect(page.locator('#checks tr[data-check="lds.dg1.expiry"]')).to_contain_text("The card has expired")


def test_details_fold_again_for_the_next_card(page: Page, pcscd: PcscdInstance, image: CardImage,
                                              trust: TrustStore) -> None:
    with counter(pcscd, trust) as server:
        page.goto(server.url)
        with card_on_reader(pcscd, VirtualChip(forge_dg13_expiry(image))):
            _read_with_can(page, _can(image))
            expect(page.locator("#verdict")).to_have_attribute("data-outcome", "not_genuine")
            page.click("#details summary")
            expect(page.locator("#checks")).to_be_visible()
        expect(page.locator("#screen-waiting")).to_be_visible()
        with card_on_reader(pcscd, VirtualChip(image)):
            _read_with_can(page, _can(image))
            expect(page.locator("#verdict")).to_have_attribute("data-outcome", "genuine")
            expect(page.locator("#details")).not_to_have_attribute("open", "")
            expect(page.locator("#checks")).to_be_hidden()


def test_a_2024_can_cuoc_card_is_labelled_as_its_face_prints(page: Page, pcscd: PcscdInstance,
                                                             trust: TrustStore) -> None:
    can_cuoc = _personalized(replace(sample_resident(5), date_of_issue=date(2024, 9, 2), identification_marks="",
                                     place_of_origin="Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội"), 5)
    with counter(pcscd, trust) as server, card_on_reader(pcscd, VirtualChip(can_cuoc)):
        page.goto(server.url)
        _read_with_can(page, _can(can_cuoc))
        expect(page.locator("#card-kind")).to_contain_text("Bộ Công an")
        labels = page.locator("#holder-fields dt")
        expect(labels).to_contain_text(["Họ, chữ đệm và tên khai sinh", "Số định danh cá nhân"])
        expect(page.locator("#holder-fields")).to_contain_text("Nơi đăng ký khai sinh")
        expect(page.locator("#holder-fields")).to_contain_text("Nơi cư trú")
        assert "Quê quán" not in page.locator("#holder-fields").inner_text()
        expect(page.locator('dd[data-field="place_of_birth_registration"]')).to_have_text(
            "Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội")
        _fits_the_screen(page)
        _shot(page, "13-can-cuoc-2024")
        page.click("#lang")
        expect(page.locator("#card-kind")).to_contain_text("Ministry of Public Security")
        expect(page.locator("#holder-fields")).to_contain_text("Place of birth")


class NoPcscService:
    """A computer whose PC/SC service is stopped."""

    def poll(self) -> CardState:
        return CardState.NO_SERVICE

    def open(self) -> AbstractContextManager[Transport]:
        raise NoServiceError("no PC/SC service: Service not available.")


def test_no_pcsc_service_says_how_to_start_it(page: Page, trust: TrustStore) -> None:
    source = NoPcscService()
    with running_counter(CounterSession(source, trust), source) as server:
        page.goto(server.url)
        expect(page.locator("#screen-no_service")).to_be_visible()
        expect(page.locator("#screen-no_service h2")).to_have_text("Dịch vụ đầu đọc thẻ chưa chạy")
        expect(page.locator("#screen-no_service")).to_contain_text("sudo systemctl start pcscd")
        _shot(page, "14-no-pcsc-service")
        page.click("#lang")
        expect(page.locator("#screen-no_service h2")).to_have_text("The card reader service is not running")


class StalledCardReader:
    """A reader holding a card that stops answering after a few APDUs (a slow card the driver gave up on)."""

    def __init__(self, image: CardImage) -> None:
        self.image = image

    def poll(self) -> CardState:
        return CardState.PRESENT

    @contextmanager
    def open(self) -> Iterator[Transport]:
        chip = VirtualChip(self.image)

        class Stalling(InProcessTransport):
            sent = 0

            def transmit(self, command: bytes) -> bytes:
                self.sent += 1
                if self.sent > 12:
                    raise CardRemovedError("the card in 'Reader 0' stopped answering (Transaction failed.)")
                return super().transmit(command)

        yield Stalling(chip)


def test_a_slow_card_still_on_the_reader_is_not_called_removed(page: Page, image: CardImage,
                                                               trust: TrustStore) -> None:
    source = StalledCardReader(image)
    with running_counter(CounterSession(source, trust), source) as server:
        page.goto(server.url)
        _read_with_can(page, _can(image))
        expect(page.locator("#notice-text")).to_contain_text("vẫn còn trên đầu đọc")
        expect(page.locator("#screen-card")).to_be_visible()
        assert "nhấc ra" not in page.locator("#notice-text").inner_text()
        _shot(page, "15-slow-card-not-removed")


def test_an_under_6_card_without_a_portrait_says_why_there_is_none(page: Page, pcscd: PcscdInstance,
                                                                   trust: TrustStore) -> None:
    child = replace(sample_resident(6), id_number="001321000006", date_of_birth=date(2021, 3, 1),
                    date_of_issue=date(2025, 1, 6), date_of_expiry=date(2035, 3, 1), identification_marks="",
                    spouse_name="", old_id_number="")
    card = _personalized(child, 6)
    com = EFCOM.decode(card.files["EF.COM"])
    listed = replace(com, data_groups=tuple(number for number in com.data_groups if number != 2)).encode()
    files = {**{name: data for name, data in card.files.items() if name != "DG2"}, "EF.COM": listed}
    groups = {int(name[2:]): data for name, data in files.items() if name.startswith("DG")}
    faceless = replace(card, files={**files, "EF.SOD": sign_data_groups(groups, sample_pki().document_signer)})
    with counter(pcscd, trust) as server, card_on_reader(pcscd, VirtualChip(faceless)):
        page.goto(server.url)
        _read_with_can(page, _can(card))
        expect(page.locator("#card-kind")).to_contain_text("dưới 6 tuổi")
        expect(page.locator("#verdict")).not_to_have_attribute("data-outcome", "not_genuine")
        expect(page.locator("#portrait-note")).to_have_text(
            "Thẻ cấp cho trẻ dưới 6 tuổi: không thu nhận ảnh khuôn mặt.")
        _fits_the_screen(page)
        _shot(page, "16-under-6-no-portrait")
