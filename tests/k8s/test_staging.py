"""Staging copies and push to live on the real node (issue 19, Build 2):
a Kubernetes store's copy is made from a fresh backup through its pod,
staged (noindex, the marker that keeps its mail and offers only offline
payments), changed, and pushed into live, which keeps the order it took
meanwhile and the stock that order left."""

from __future__ import annotations

import secrets

import pytest

from tests.k8s.conftest import Cluster
from tests.k8s.platforms import ClusterPlatform
from tests.k8s.realstores import php_in_store, wp_option
from tests.k8s.test_stores import READY, _create, _wait_phase, real  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(2400)


def _wp(k8s: Cluster, ns: str, code: str) -> str:
    """Run PHP with WordPress loaded in the store's pod; what it echoes after OUT=."""
    done, out = php_in_store(
        k8s, ns,
        "define('WP_USE_THEMES', false); $_SERVER['HTTP_HOST'] = 'localhost';"
        f" require '/var/www/html/wp-load.php'; echo 'OUT='; {code}",
        timeout=120,
    )  # fmt: skip
    assert done == 0, out
    return out.rsplit("OUT=", 1)[1].strip()


def _order(k8s: Cluster, ns: str, product: int) -> int:
    """An order as checkout makes one: a line, Cash on Delivery, processing,
    the stock reduced."""
    return int(_wp(k8s, ns,
        f"$o = wc_create_order(); $o->add_product(wc_get_product({product}), 1);"
        " $o->set_payment_method('cod'); $o->calculate_totals(); $o->update_status('processing');"
        " wc_reduce_stock_levels($o->get_id()); echo $o->get_id();"))  # fmt: skip


def test_a_kubernetes_staging_copy_is_pushed_and_live_keeps_its_order(
    real: ClusterPlatform,  # noqa: F811 (the fixture imported above)
) -> None:
    k8s, api = real.cluster, real.admin()
    live_id = _create(real, "golive", "Live-" + secrets.token_urlsafe(10))
    live = api.wait_for(live_id, "ready", timeout=READY)
    ns = real.store_ns("golive")
    product = int(_wp(k8s, ns,
        "$p = wc_get_products(['limit' => 1, 'type' => 'simple'])[0]; $p->set_manage_stock(true);"
        " $p->set_stock_quantity(10); $p->save(); echo $p->get_id();"))  # fmt: skip

    resp = api.http.post(f"/api/stores/{live_id}/staging", json={"name": "golive-stage"})
    assert resp.status_code == 202, resp.text
    copy = api.wait_for(resp.json()["id"], "ready", timeout=READY)
    steps = [s["name"] for s in copy["steps"] if s["operation"] == "provision"]
    assert steps[:4] == ["source-database", "source-files", "source-store", "fetch"], steps
    assert "stage" in steps
    copy_ns = real.store_ns("golive-stage")
    assert wp_option(k8s, copy_ns, "blog_public") == "0"
    assert wp_option(k8s, copy_ns, "storefleet_staging") == "1"
    gateways = _wp(k8s, copy_ns, "echo implode(',', array_keys("
                   "WC()->payment_gateways()->get_available_payment_gateways()));")  # fmt: skip
    assert set(gateways.split(",")) <= {"cod", "bacs", "cheque"}, gateways

    # Changes on the copy; an order on live meanwhile.
    page = int(_wp(k8s, copy_ns,
        f"$p = wc_get_product({product}); $p->set_regular_price('123.45'); $p->save();"
        " echo wp_insert_post(['post_type' => 'page', 'post_title' => 'Staging news',"
        " 'post_status' => 'publish']);"))  # fmt: skip
    code, out = php_in_store(
        k8s, copy_ns, "file_put_contents('/var/www/html/wp-content/uploads/staged.txt', 'staged');"
    )
    assert code == 0, out
    order = _order(k8s, ns, product)

    resp = api.http.post(f"/api/stores/{copy['id']}/push", json={"what": "both"})
    assert resp.status_code == 202, resp.text
    op = api.wait_operation(live_id, resp.json()["id"], timeout=900)
    assert op["status"] == "succeeded", (op["failure_reason"], op["steps"])
    assert [s["name"] for s in op["steps"]] == [
        "backup-database", "backup-files", "backup-store", "files", "database", "address",
        "restart", "rollout", "verify",
    ]  # fmt: skip
    _wait_phase(api, live_id, "ready")
    assert _wp(k8s, ns, f"echo wc_get_product({product})->get_regular_price();") == "123.45"
    assert _wp(k8s, ns, f"echo wc_get_product({product})->get_stock_quantity();") == "9"
    assert _wp(k8s, ns, f"echo get_post({page})->post_title;") == "Staging news"
    assert _wp(k8s, ns, f"echo wc_get_order({order}) ? 'kept' : 'gone';") == "kept"
    code, out = php_in_store(
        k8s, ns, "echo file_get_contents('/var/www/html/wp-content/uploads/staged.txt');"
    )
    assert code == 0 and out.strip().endswith("staged"), out
    assert wp_option(k8s, ns, "blog_public") == "1"
    assert wp_option(k8s, ns, "storefleet_staging") == ""
    assert wp_option(k8s, ns, "home") == live["url"].rstrip("/")
    assert _order(k8s, ns, product) > page > order
