"""Fictitious national directory extractions, in the exact format the ANS publishes.

    python -m dev.directory_sample                      # the sample kept in tests/data/
    python -m dev.directory_sample --rows 1000000 -o /tmp/annuaire.txt

Deterministic: the same seed and row count give the same file, byte for byte. Every person,
number and domain is invented (domains under ``.mssante.test``); the first rows are the demo's
and the test stack's own mailboxes, so the demo finds real mailboxes in the directory.
"""

from __future__ import annotations

import argparse
import random
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from webmail.directory.extraction import COLUMNS, SEPARATOR

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "annuaire_sample.txt"
SAMPLE_ROWS = 1500
SEED = 2026

def _words(text: str) -> tuple[str, ...]:
    """Names written one after the other; "_" stands for a space inside one name."""
    return tuple(word.replace("_", " ") for word in text.split())


LAST_NAMES = _words(
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèvre "
    "Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefebvre Mercier Dupont "
    "Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc Guérin Muller Henry "
    "Roussel Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Lopez Fontaine Chevalier Robin "
    "Masson Sanchez Gérard Nguyen Boyer Denis Lemaire Duval Joly Gautier Roger Roche Roy Noël "
    "Meyer Lucas Meunier Pérez Marchand Dufour Blanchard Barbier Brun Dumas Brunet Schmitt Leroux "
    "Colin Fernandez Renard Arnaud Rolland Caron Aubert Giraud Leclerc Vidal Bourgeois Renaud "
    "Lemoine Picard Gaillard Lacroix Fabre Dupuis Olivier Hubert Guillot Rivière Guillaume Adam "
    "Moulin Berger Lecomte Ménard Fleury Deschamps Carpentier Benoît Maillard Aubry Vasseur "
    "Jacquet Collet Prévost Poirier Charpentier Royer Huet Baron Dupuy Carré Rémy Schneider Perrot "
    "Guyot Barré Marty Cousin Benali Haddad Mansouri Chérif Diallo Traoré Le_Gall Le_Roux "
    "Da_Silva Kerbrat Le_Goff Hénaff Lévêque Bécue Pélissier Thébault Gaudin Besnard Lefranc"
)
FIRST_NAMES_F = _words(
    "Claire Sophie Élodie Hélène Isabelle Nathalie Amina Marie Cécile Chloé Léa Anaïs Noémie "
    "Agnès Séverine Françoise Gaëlle Zoé Camille Julie Sandrine Valérie Aurélie Émilie Inès "
    "Manon Laure Béatrice Delphine Maëlle Marie-Hélène Anne-Sophie Fatima Yasmine Mélanie"
)
FIRST_NAMES_M = _words(
    "Antoine Karim Thomas Julien Luc Paul Jérôme Benoît Frédéric Loïc Théo Maël Raphaël Joël "
    "Stéphane Nicolas Pierre Olivier Mathieu Guillaume François Hugo Éric Rémi Sébastien Cédric "
    "Yannick Hervé Jean-François Jean-Pierre Mehdi Youssef Gaël Aurélien Grégoire Noël"
)

SPECIALTIES = (
    ("SM54", "Médecine générale", 40),
    ("SM04", "Cardiologie et maladies vasculaires", 6),
    ("SM15", "Dermatologie et vénéréologie", 3),
    ("SM19", "Endocrinologie et métabolisme", 2),
    ("SM20", "Gastro-entérologie et hépatologie", 3),
    ("SM24", "Gynécologie-obstétrique", 3),
    ("SM32", "Neurologie", 2),
    ("SM38", "Ophtalmologie", 3),
    ("SM40", "Pédiatrie", 4),
    ("SM42", "Pneumologie", 2),
    ("SM43", "Psychiatrie", 4),
    ("SM44", "Radiodiagnostic et imagerie médicale", 4),
    ("SM50", "Rhumatologie", 2),
    ("SM03", "Anesthésie-réanimation", 4),
    ("SM53", "Gériatrie", 2),
    ("SM34", "Néphrologie", 1),
    ("SM37", "Oncologie médicale", 2),
    ("SM26", "Médecine d'urgence", 3),
)


@dataclass(frozen=True)
class Profession:
    code: str
    label: str
    weight: int
    domain: str
    practice: str
    civility_dr: bool = False


PROFESSIONS = (
    Profession("10", "Médecin", 45, "medecin", "Cabinet médical", civility_dr=True),
    Profession("60", "Infirmier", 22, "infirmier", "Cabinet infirmier"),
    Profession("21", "Pharmacien", 9, "pharmacien", "Pharmacie", civility_dr=True),
    Profession("70", "Masseur-Kinésithérapeute", 9, "kine", "Cabinet de kinésithérapie"),
    Profession("40", "Chirurgien-Dentiste", 6, "chirurgien-dentiste", "Cabinet dentaire",
               civility_dr=True),
    Profession("50", "Sage-Femme", 4, "sagefemme", "Cabinet de sage-femme"),
    Profession("80", "Pédicure-Podologue", 2, "podologue", "Cabinet de podologie"),
    Profession("91", "Orthophoniste", 2, "orthophoniste", "Cabinet d'orthophonie"),
    Profession("26", "Audioprothésiste", 1, "audio", "Centre auditif"),
)

CITIES = (
    ("Paris", "75014", "75"), ("Paris", "75011", "75"), ("Lyon", "69003", "69"),
    ("Marseille", "13005", "13"), ("Toulouse", "31059", "31"), ("Nantes", "44093", "44"),
    ("Bordeaux", "33000", "33"), ("Lille", "59037", "59"), ("Rennes", "35033", "35"),
    ("Strasbourg", "67091", "67"), ("Montpellier", "34295", "34"), ("Nice", "06000", "06"),
    ("Grenoble", "38043", "38"), ("Dijon", "21079", "21"), ("Angers", "49933", "49"),
    ("Brest", "29609", "29"), ("Clermont-Ferrand", "63003", "63"), ("Limoges", "87042", "87"),
    ("Tours", "37044", "37"), ("Amiens", "80054", "80"), ("Besançon", "25030", "25"),
    ("Orléans", "45067", "45"), ("Caen", "14033", "14"), ("Rouen", "76031", "76"),
    ("Reims", "51092", "51"), ("Metz", "57038", "57"), ("Nancy", "54035", "54"),
    ("Perpignan", "66046", "66"), ("Pau", "64046", "64"), ("Poitiers", "86021", "86"),
    ("Saint-Étienne", "42055", "42"), ("Le Mans", "72037", "72"), ("Créteil", "94010", "94"),
    ("Béziers", "34500", "34"), ("Nîmes", "30029", "30"), ("Aix-en-Provence", "13100", "13"),
    ("Annecy", "74000", "74"), ("Chambéry", "73000", "73"), ("Valence", "26000", "26"),
    ("Quimper", "29000", "29"), ("Vannes", "56000", "56"), ("Saint-Brieuc", "22000", "22"),
    ("La Rochelle", "17000", "17"), ("Troyes", "10000", "10"), ("Colmar", "68000", "68"),
    ("Bayonne", "64100", "64"), ("Ajaccio", "20000", "2A"), ("Évreux", "27000", "27"),
    ("Châteauroux", "36000", "36"), ("Fort-de-France", "97200", "972"),
)
STREETS = (
    ("RUE", "de la République"), ("AV", "Jean Jaurès"), ("BD", "Pasteur"), ("RUE", "Victor Hugo"),
    ("PL", "de l'Église"), ("RUE", "des Écoles"), ("AV", "du Général de Gaulle"),
    ("RUE", "Émile Zola"), ("CHE", "des Vignes"), ("RUE", "du Moulin"), ("ALL", "des Tilleuls"),
)
SERVICES = (
    "Cardiologie", "Pneumologie", "Urgences", "Gériatrie", "Pédiatrie", "Maternité",
    "Médecine interne", "Chirurgie orthopédique", "Oncologie", "Néphrologie", "Neurologie",
    "Imagerie médicale", "Laboratoire de biologie", "Psychiatrie adulte", "Bloc opératoire",
)
SOFTWARE = ("Hellodoc", "Weda", "Crossway", "Médistory", "Axisanté", "Mediboard", "DxCare")


def ascii_part(text: str) -> str:
    """« Marie-Hélène Le Gall » → « marie-helene-le-gall », for a mailbox's local part."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(plain.lower().replace("'", " ").split())


def _row(**values: str) -> list[str]:
    row = dict.fromkeys(COLUMNS, "")
    row["Catégorie profession"] = "C" if values.get("Code Profession") else ""
    row["Libellé de catégorie profession"] = "Civil" if values.get("Code Profession") else ""
    row["Dématérialisation"] = "true"
    row["Pays structure BAL"] = "FRANCE"
    for name, value in values.items():
        column = {
            "kind": "Type de BAL", "address": "Adresse BAL", "service": "Service de rattachement",
            "civility": "Civilité d'exercice", "last": "Nom d'exercice",
            "first": "Prénom d'exercice", "rs": "Raison Sociale structure BAL",
            "enseigne": "Enseigne commerciale structure BAL",
        }.get(name, name)
        row[column] = value
    return [row[column] for column in COLUMNS]


class _Generator:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.used: set[str] = set()
        self.next_rpps = 10_000_000_000 + self.random.randrange(1_000_000)

    def pick(self, items: tuple[object, ...], weights: list[int] | None = None) -> object:
        return self.random.choices(items, weights=weights)[0]

    def unique(self, local: str, domain: str) -> str:
        address = f"{local}@{domain}"
        number = 1
        while address in self.used:
            number += 1
            address = f"{local}{number}@{domain}"
        self.used.add(address)
        return address

    def place(self, city: tuple[str, str, str]) -> dict[str, str]:
        street_type, street = self.pick(STREETS)  # type: ignore[misc]
        name, postal, department = city
        return {
            "L4NUMEROVOIE structure BAL": str(self.random.randrange(1, 180)),
            "NL4TYPEVOIE structure BAL": street_type,
            "L4LIBELLEVOIE structure BAL": street,
            "L6LIGNEACHEMINEMENT structure BAL": f"{postal} {name.upper()}",
            "Code postal structure BAL": postal,
            "Département structure BAL": department,
        }

    def hospital(self, city: tuple[str, str, str]) -> tuple[str, str, dict[str, str]]:
        short = ascii_part(city[0])
        kind = "chu" if self.random.random() < 0.5 else "ch"
        name = f"{'CHU' if kind == 'chu' else 'Centre hospitalier'} de {city[0]}"
        place = self.place(city)
        place["Type identifiant structure"] = "1"
        place["Identification Structure"] = f"{city[2][:2]}0{self.random.randrange(10**6):06d}"
        return name, f"{kind}-{short}.mssante.test", place

    def person(self) -> list[list[str]]:
        profession: Profession = self.pick(  # type: ignore[assignment]
            PROFESSIONS, [p.weight for p in PROFESSIONS]
        )
        female = self.random.random() < 0.55
        first = str(self.pick(FIRST_NAMES_F if female else FIRST_NAMES_M))
        last = str(self.pick(LAST_NAMES))
        code = label = ""
        if profession.code == "10":
            code, label, _weight = self.pick(  # type: ignore[misc]
                SPECIALTIES, [s[2] for s in SPECIALTIES]
            )
        self.next_rpps += self.random.randrange(1, 50)
        rpps = str(self.next_rpps)
        civility = "DR" if profession.civility_dr else ("MME" if female else "M")
        city = self.pick(CITIES)  # type: ignore[arg-type]
        person = {
            "civility": civility, "last": last, "first": first,
            "Type Identifiant PP": "8", "Identifiant PP": rpps,
            "Identification nationale PP": "8" + rpps,
            "Code Profession": profession.code, "Libellé Profession": profession.label,
            "Code savoir-faire": code, "Libellé savoir-faire": label,
        }
        local = f"{ascii_part(first)}.{ascii_part(last)}"
        practice = {
            "rs": f"{profession.practice} {last}",
            "Type identifiant structure": "3",
            "Identification Structure": f"{self.random.randrange(10**13, 10**14)}",
            **self.place(city),  # type: ignore[arg-type]
        }
        rows = [_row(kind="PER", address=self.unique(local, f"{profession.domain}.mssante.test"),
                     **person, **practice)]
        # Some practitioners also have a mailbox where they work in hospital, a few a third.
        for _extra in range(self._extra_addresses()):
            name, domain, place = self.hospital(city)  # type: ignore[arg-type]
            rows.append(_row(kind="PER", address=self.unique(local, domain), **person,
                             service=str(self.pick(SERVICES)), rs=name, **place))
        return rows

    def _extra_addresses(self) -> int:
        draw = self.random.random()
        return 2 if draw < 0.03 else 1 if draw < 0.18 else 0

    def organisation(self) -> list[str]:
        city = self.pick(CITIES)
        name, domain, place = self.hospital(city)  # type: ignore[arg-type]
        service = str(self.pick(SERVICES))
        draw = self.random.random()
        if draw < 0.6:
            local = f"secretariat.{ascii_part(service)}"
            return _row(kind="ORG", address=self.unique(local, domain), service=service,
                        rs=name, **place)
        if draw < 0.8:
            software = str(self.pick(SOFTWARE))
            local = f"{ascii_part(software)}.{ascii_part(service)}"
            return _row(kind="APP", address=self.unique(local, domain), service=service,
                        rs=name, enseigne=f"{software} — {name}", **place)
        lilas = f"{self.pick(('des Lilas', 'du Parc', 'de la Gare', 'du Centre', 'des Halles'))}"
        cabinet = f"Cabinet médical {lilas}"
        place = self.place(city)  # type: ignore[arg-type]
        return _row(kind="CAB", address=self.unique(f"cabinet.{ascii_part(lilas)}",
                    "medecin.mssante.test"), rs=cabinet, **place)

    def rows(self, count: int) -> Iterator[list[str]]:
        produced = 0
        for row in DEMO_ROWS:
            self.used.add(row[1])
            yield row
            produced += 1
        while produced < count:
            batch = [self.organisation()] if self.random.random() < 0.12 else self.person()
            for row in batch[: count - produced]:
                yield row
                produced += 1


def _demo_person(
    address: str, first: str, last: str, rpps: str, profession: tuple[str, str],
    specialty: tuple[str, str] = ("", ""), workplace: str = "", city: tuple[str, str] = ("", ""),
    **extra: str,
) -> list[str]:
    return _row(
        kind="PER", address=address, civility="DR" if profession[0] == "10" else "M",
        last=last, first=first, **{
            "Type Identifiant PP": "8", "Identifiant PP": rpps,
            "Identification nationale PP": "8" + rpps,
            "Code Profession": profession[0], "Libellé Profession": profession[1],
            "Code savoir-faire": specialty[0], "Libellé savoir-faire": specialty[1],
            "rs": workplace, "Code postal structure BAL": city[1],
            "L6LIGNEACHEMINEMENT structure BAL": f"{city[1]} {city[0].upper()}",
        }, **extra,
    )


_GP = ("SM54", "Médecine générale")
_DOCTOR = ("10", "Médecin")
_DEMO_CITY = ("Démoville", "35000")
# The demo's mailboxes (dev/corpus.py), so the demo's directory finds people who can answer.
DEMO_ROWS = (
    _demo_person("dr.martin@medecin.mssante.test", "Claire", "Martin", "99700000001", _DOCTOR,
                 _GP, "Cabinet médical des Lilas", _DEMO_CITY),
    _demo_person("paul.durand@infirmier.mssante.test", "Paul", "Durand", "99700000002",
                 ("60", "Infirmier"), workplace="Cabinet infirmier des Tilleuls",
                 city=_DEMO_CITY),
    _row(kind="ORG", address="secretariat.cardio@ch-demo.mssante.test",
         service="Secrétariat de cardiologie", rs="CH Démo",
         **{"Code postal structure BAL": "35000",
            "L6LIGNEACHEMINEMENT structure BAL": "35000 DÉMOVILLE"}),
    _demo_person("antoine.moreau@ch-demo.mssante.test", "Antoine", "Moreau", "99700000003",
                 _DOCTOR, ("SM04", "Cardiologie et maladies vasculaires"), "CH Démo", _DEMO_CITY),
    _demo_person("sophie.lefevre@chu-demo.mssante.test", "Sophie", "Lefèvre", "99700000004",
                 _DOCTOR, ("SM42", "Pneumologie"), "CHU Démo", _DEMO_CITY),
    _demo_person("elodie.garnier@chu-demo.mssante.test", "Élodie", "Garnier", "99700000005",
                 _DOCTOR, ("SM32", "Neurologie"), "CHU Démo", _DEMO_CITY),
)


def rows(count: int, seed: int = SEED) -> Iterator[list[str]]:
    """``count`` rows of fields, the demo's first."""
    return _Generator(seed).rows(count)


def write(path: Path, count: int, seed: int = SEED) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(SEPARATOR.join(COLUMNS) + "\n")
        for row in rows(count, seed):
            out.write(SEPARATOR.join(row) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.directory_sample", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=SAMPLE_ROWS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("-o", "--output", type=Path, default=SAMPLE)
    args = parser.parse_args(argv)
    write(args.output, args.rows, args.seed)
    print(f"{args.rows} rows written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
