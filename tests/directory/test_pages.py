"""The directory page through the app, signed in: search, results, one tap to write."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from tests.conftest import soup


def results(html: str) -> list[dict[str, object]]:
    page = soup(html)
    return [
        {
            "name": entry.select_one(".directory-name").get_text(strip=True),
            "job": entry.select_one(".directory-job").get_text(" ", strip=True)
            if entry.select_one(".directory-job")
            else "",
            "addresses": [a.get_text(strip=True) for a in entry.select(".directory-mail")],
            "write": [a["href"] for a in entry.select("a.directory-write")],
            "places": [p.get_text(strip=True) for p in entry.select(".directory-place")],
        }
        for entry in page.select("#directory-results .directory-entry")
    ]


def test_the_page_offers_a_search_form_that_works_without_script(logged_in: TestClient) -> None:
    response = logged_in.get("/directory")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = soup(response.text)
    form = page.select_one("form.directory-search")
    assert (form["method"], form["action"]) == ("get", "/directory")
    assert {field["name"] for field in form.select("input, select")} == {"q", "type", "id"}
    assert [o["value"] for o in form.select("select[name=type] option")] == [
        "", "PER", "ORG", "APP", "CAB"
    ]  # fmt: skip
    # htmx as you type, debounced, newest answer wins.
    assert "input delay:300ms" in form["hx-trigger"]
    assert form["hx-sync"] == "this:replace"
    assert page.select_one(".directory-hint")
    assert results(response.text) == []
    # The top bar leads here from every signed-in page.
    inbox = soup(logged_in.get("/mail").text)
    assert inbox.select_one(".topbar a[href='/directory']")


def test_a_gp_finds_a_cardiologist_by_name_and_city_and_writes_to_them(
    logged_in: TestClient,
) -> None:
    response = logged_in.get("/directory", params={"q": "moreau cardio demoville"})
    assert response.status_code == 200
    [found] = results(response.text)
    assert found == {
        "name": "Dr Antoine Moreau",
        "job": "Médecin · Cardiologie et maladies vasculaires",
        "addresses": ["antoine.moreau@ch-demo.mssante.test"],
        "write": ["/compose?to=antoine.moreau%40ch-demo.mssante.test"],
        "places": ["CH Démo · Démoville"],
    }
    compose = logged_in.get(found["write"][0])  # type: ignore[index]
    assert compose.status_code == 200
    assert soup(compose.text).select_one("#to")["value"] == "antoine.moreau@ch-demo.mssante.test"


def test_every_address_of_a_person_is_shown_with_its_workplace(logged_in: TestClient) -> None:
    response = logged_in.get("/directory", params={"id": "8 1000 0127 132"})
    [found] = results(response.text)
    assert found["name"] == "Dr Amina Dupuis"
    assert found["addresses"] == [
        "amina.dupuis@medecin.mssante.test",
        "amina.dupuis@chu-nancy.mssante.test",
        "amina.dupuis2@chu-nancy.mssante.test",
    ]
    assert len(found["write"]) == 3  # type: ignore[arg-type]
    assert found["places"][1] == "Imagerie médicale · CHU de Nancy · Nancy"  # type: ignore[index]


def test_accents_case_and_filters_through_the_page(logged_in: TestClient) -> None:
    lefevre = results(logged_in.get("/directory", params={"q": "LEFEVRE pneumo"}).text)
    assert [r["name"] for r in lefevre] == ["Dr Sophie Lefèvre"]
    org = results(logged_in.get("/directory", params={"q": "cardio demo", "type": "ORG"}).text)
    assert [r["addresses"] for r in org] == [["secretariat.cardio@ch-demo.mssante.test"]]
    # A type that is none of the four is no filter, and no error.
    assert logged_in.get("/directory", params={"q": "x", "type": "'; --"}).status_code == 200


def test_htmx_gets_the_results_alone(logged_in: TestClient) -> None:
    response = logged_in.get(
        "/directory", params={"q": "martin claire"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "HX-Request" in response.headers["vary"]
    fragment = soup(response.text)
    assert fragment.select_one("html") is None
    assert fragment.select_one("form") is None
    assert fragment.find(id="directory-results")
    assert [r["name"] for r in results(response.text)] == ["Dr Claire Martin"]
    # A boosted navigation is a whole page.
    boosted = logged_in.get(
        "/directory", params={"q": "martin"}, headers={"HX-Request": "true", "HX-Boosted": "true"}
    )
    assert soup(boosted.text).select_one("form.directory-search")


def test_nothing_found_and_hostile_input_are_said_plainly(logged_in: TestClient) -> None:
    none = soup(logged_in.get("/directory", params={"q": "zzzzqqqq"}).text)
    assert none.select_one(".directory-none").get_text(strip=True) == (
        "Personne ne correspond à cette recherche."
    )
    hostile = '<script>alert(1)</script> "NEAR( *'
    response = logged_in.get("/directory", params={"q": hostile})
    assert response.status_code == 200
    page = soup(response.text)
    assert page.select_one("#directory-q")["value"] == hostile  # kept as typed, escaped
    assert page.select("main script") == []


def test_without_an_index_the_page_says_the_directory_is_unavailable(
    logged_in: TestClient, index_path: Path
) -> None:
    index_path.unlink()
    response = logged_in.get("/directory", params={"q": "martin"})
    assert response.status_code == 503
    page = soup(response.text)
    assert (
        page.select_one("#directory-results [role=alert]")
        .get_text(strip=True)
        .startswith("Annuaire non disponible")
    )
    assert page.select_one("#directory-q")["value"] == "martin"  # the form stays usable
    assert "Traceback" not in response.text
    # The mail itself goes on.
    assert logged_in.get("/mail").status_code == 200


def test_signed_out_the_directory_leads_to_the_login(client: TestClient) -> None:
    response = client.get("/directory", params={"q": "martin"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    htmx = client.get("/directory", params={"q": "martin"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"] == "/login"


def test_a_broad_search_shows_a_page_and_says_there_may_be_more(logged_in: TestClient) -> None:
    page = soup(logged_in.get("/directory", params={"q": "médecin"}).text)
    assert len(page.select(".directory-entry")) == 20
    assert page.select_one(".directory-count").get_text(strip=True) == (
        "20 résultats — précisez la recherche pour en voir d'autres"
    )
    narrow = soup(logged_in.get("/directory", params={"q": "moreau antoine"}).text)
    assert narrow.select_one(".directory-count").get_text(strip=True) == "1 résultat"
