"""What ``tiered demo`` replays: requests whose cheap-model confidence and correctness are known in advance.

Two sources, each becoming one route of the demo:

* ``default``: a built-in synthetic mix of everyday questions (with a right and a plausible wrong answer each)
  and harder tasks. Confidences are drawn so that they mean something: the higher, the likelier the cheap
  answer is right, though not certainly. Seeded, so every run replays the same items.
* ``gastro``: when ``../shared/data/verbalized-confidence-gastro`` (or ``--data``) is present, the real
  outcomes of Naderi et al. (arXiv:2503.18562, Apache-2.0): Claude Haiku's stated confidence (0-10) and
  correctness on 300 gastroenterology board questions, Claude Opus's correctness on the same. The data set has
  no question text, so the prompt only names the question. That confidence is badly calibrated (mostly 8-9,
  right about half the time): the demo shows what the quality loop does about it.

:func:`demo_scenario` scripts the fake upstream with one rule per item (matched by the item's tag in the
prompt), so prompts stay free of test directives and the grading view shows plain text.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tiered.fake_upstream import Fault, Rule, Scenario, UsageOverride

__all__ = ["CHEAP", "DEEP", "GASTRO_FILE", "Item", "demo_scenario", "find_gastro", "gastro_items", "synthetic_items"]

CHEAP: Final = "claude-haiku-4-5"
DEEP: Final = "claude-opus-4-7"
GASTRO_FILE: Final = "merged_confidence_correctness_new.csv"
TRIAGE_OVERHEAD_TOKENS: Final = 320  # the triage instruction and schema the proxy adds to the cheap call

_EVERYDAY: Final = (
    (
        "What is the capital of Australia?",
        "Canberra. It was built as the capital and became the seat of government in 1927, taking over from Melbourne.",
        "Sydney. As the largest city it has been the capital since federation in 1901.",
    ),
    (
        "How many bytes are in a kibibyte?",
        "1,024 bytes: a kibibyte is 2^10 bytes, while a kilobyte in the SI sense is 1,000 bytes.",
        "1,000 bytes: the kibi- prefix is just another spelling of kilo-, meaning a thousand.",
    ),
    (
        "Convert 100 °F to Celsius.",
        "About 37.8 °C: subtract 32 and multiply by 5/9, so (100 - 32) × 5/9 ≈ 37.8.",
        "About 42.1 °C: subtract 32 and multiply by 0.62, so (100 - 32) × 0.62 ≈ 42.1.",
    ),
    (
        "Which planet is closest to the Sun?",
        "Mercury, at about 58 million km on average; Venus comes second at about 108 million km.",
        "Venus, at about 58 million km on average; Mercury comes second at about 108 million km.",
    ),
    (
        "What does HTTP status 404 mean?",
        "Not Found: the server is reachable but has nothing at that URL. It says nothing about whether it ever will.",
        "Unauthorized: the client must log in first and repeat the request with credentials.",
    ),
    (
        "Who wrote 'Pride and Prejudice'?",
        "Jane Austen. It was published in 1813, two years after 'Sense and Sensibility'.",
        "Charlotte Brontë. It was published in 1847, the same year as 'Jane Eyre'.",
    ),
    (
        "What is 17 × 23?",
        "391: 17 × 20 = 340 and 17 × 3 = 51, and 340 + 51 = 391.",
        "381: 17 × 20 = 340 and 17 × 3 = 41, and 340 + 41 = 381.",
    ),
    (
        "In Python, what does len([1, 2, 3]) return?",
        "3: len returns the number of items in the list, and the list holds three integers.",
        "2: len returns the index of the last item, and indexing starts at zero.",
    ),
    (
        "What is the chemical symbol for sodium?",
        "Na, from its Latin name natrium; S is sulfur and So is not an element.",
        "So, from the first two letters of its English name.",
    ),
    (
        "How many days are in a leap year?",
        "366: February gets a 29th day, every fourth year except most century years.",
        "365: a leap year only moves the extra hours into February, the count stays the same.",
    ),
    (
        "Which ocean is the largest?",
        "The Pacific Ocean, covering about 165 million km², more than all the land on Earth together.",
        "The Atlantic Ocean, covering about 165 million km², more than all the land on Earth together.",
    ),
    (
        "What port does HTTPS use by default?",
        "443. Plain HTTP uses 80; 8443 is only a common choice for alternative HTTPS services.",
        "8443. Plain HTTP uses 8080, and 443 is reserved for mail over TLS.",
    ),
    (
        "Translate 'thank you' into French.",
        "Merci (or merci beaucoup for 'thank you very much').",
        "S'il vous plaît, which is how the French say thank you politely.",
    ),
    (
        "In which year did Apollo 11 land on the Moon?",
        "1969: the lunar module landed on 20 July, and Armstrong stepped out a few hours later.",
        "1972: it was the last crewed landing of the Apollo programme.",
    ),
    (
        "Which gas do plants take in for photosynthesis?",
        "Carbon dioxide; with water and light they make sugars and release oxygen.",
        "Oxygen; with water and light they make sugars and release carbon dioxide.",
    ),
    (
        "What is the time complexity of binary search?",
        "O(log n): each comparison halves the sorted range that can still hold the target.",
        "O(n): in the worst case every element of the array is compared once.",
    ),
    (
        "Which HTTP method is idempotent, POST or PUT?",
        "PUT: sending the same PUT twice leaves the resource as one PUT would. POST makes no such promise.",
        "POST: sending the same POST twice leaves the resource as one POST would. PUT makes no such promise.",
    ),
    (
        "Who painted the Mona Lisa?",
        "Leonardo da Vinci, in the early 1500s; it hangs in the Louvre in Paris.",
        "Michelangelo, in the early 1500s, between his work on the Sistine Chapel.",
    ),
    (
        "What is the smallest prime number?",
        "2. It is the only even prime; 1 is not prime because it has only one divisor.",
        "1. It is divisible only by 1 and itself, which makes it the first prime.",
    ),
    (
        "What is the currency of Japan?",
        "The yen (JPY), issued by the Bank of Japan.",
        "The won, issued by the Bank of Japan.",
    ),
    (
        "How many minutes are in a day?",
        "1,440: 24 hours times 60 minutes.",
        "1,240: 24 hours times 60 minutes, less the leap adjustment.",
    ),
    (
        "What is 15% of 80?",
        "12: 10% of 80 is 8 and 5% is 4, so 15% is 12.",
        "15: 15% of 80 is 80 divided by 15, rounded.",
    ),
    (
        "What does the SQL keyword DISTINCT do?",
        "It removes duplicate rows from a query's result, comparing all the selected columns.",
        "It sorts a query's result by the first selected column.",
    ),
    (
        "What is the freezing point of water in kelvin?",
        "273.15 K at standard pressure, which is 0 °C.",
        "0 K, since the Kelvin scale starts where water freezes.",
    ),
)
_HARD: Final = (
    "Draft a zero-downtime migration plan from MySQL 5.7 to PostgreSQL 16 for a 2 TB OLTP database.",
    "Review this contract clause for liability risks and propose safer wording.",
    "Explain why this Rust borrow-checker error happens and restructure the code to fix it.",
    "Write a threat model for a multi-tenant file-sharing service.",
    "Summarise the trade-offs between Raft and Paxos for a five-node metadata store.",
    "Find the bug in this concurrent queue implementation and prove the fix is correct.",
)


@dataclass(frozen=True, slots=True)
class Item:
    """One replayable request: the prompt (containing its unique ``tag``), what the cheap model says and how
    sure it is, whether that answer is right, and the token counts to bill."""

    route: str
    tag: str
    prompt: str
    confidence: float
    cheap_answer: str | None
    correct: bool
    final_answer: str | None
    input_tokens: int
    final_output_tokens: int


def _p_correct(confidence: float) -> float:
    # confident answers are usually right, not always: about 1 in 10 wrong at 0.8, 1 in 30 at 0.95
    return 1.0 - 0.55 * math.pow(1.0 - confidence, 0.9)


def synthetic_items(count: int = 240, *, seed: int = 7) -> list[Item]:
    rng = random.Random(seed)
    items = []
    for n in range(count):
        tag = f"Ticket {1000 + n}"
        if rng.random() < 0.85:
            question, right, wrong = rng.choice(_EVERYDAY)
            confidence = round(min(0.99, max(0.55, rng.gauss(0.95, 0.035))), 2)
            correct = rng.random() < _p_correct(confidence)
            items.append(
                Item(
                    route="default",
                    tag=tag,
                    prompt=f"{tag}: {question}",
                    confidence=confidence,
                    cheap_answer=right if correct else wrong,
                    correct=correct,
                    final_answer=right,
                    input_tokens=rng.randint(300, 900),
                    final_output_tokens=len(right.split()) + 12,
                )
            )
        else:
            task = rng.choice(_HARD)
            confidence = round(min(0.9, max(0.05, rng.gauss(0.4, 0.2))), 2)
            items.append(
                Item(
                    route="default",
                    tag=tag,
                    prompt=f"{tag}: {task}",
                    confidence=confidence,
                    cheap_answer=None,
                    correct=rng.random() < _p_correct(confidence),
                    final_answer=None,
                    input_tokens=rng.randint(800, 1800),
                    final_output_tokens=rng.randint(150, 350),
                )
            )
    return items


def find_gastro(data_dir: Path | None) -> Path | None:
    """The gastro CSV under ``data_dir`` (the shared data folder or the data set's own), else ``None``."""
    if data_dir is None:
        return None
    for candidate in (data_dir / GASTRO_FILE, data_dir / "verbalized-confidence-gastro" / GASTRO_FILE):
        if candidate.is_file():
            return candidate
    return None


def gastro_items(path: Path, *, cheap: str = "ClaudeHiakuWeb-raw", seed: int = 11) -> list[Item]:
    """One item per question that has the cheap model's confidence and correctness (the CSV's spelling)."""
    rng = random.Random(seed)
    items = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=1):
            raw_conf, raw_correct = row.get(f"{cheap}_confidence", ""), row.get(f"{cheap}_correctness", "")
            if not raw_conf or not raw_correct:
                continue
            confidence = min(1.0, max(0.0, float(raw_conf) / 10.0))
            letter = "ABCDE"[rng.randrange(5)]
            tag = f"Board question {number}"
            items.append(
                Item(
                    route="gastro",
                    tag=tag,
                    prompt=(
                        f"{tag}: gastroenterology, multiple choice A-E (the public data set keeps no question "
                        "text). Pick the single best answer and say why in one sentence."
                    ),
                    confidence=confidence,
                    cheap_answer=f"({letter}) is the best answer: it fits the history and the findings.",
                    correct=float(raw_correct) >= 0.5,
                    final_answer=None,
                    input_tokens=rng.randint(350, 700),
                    final_output_tokens=rng.randint(60, 180),
                )
            )
    return items


def demo_scenario(items: list[Item], *, latency: float = 1.0, seed: int = 3) -> Scenario:
    """Rules that make the fake upstream answer each item as scripted; ``latency`` scales the cheap and final
    models' time to first token and speed (0: as fast as possible, for tests)."""
    rules: list[Rule] = []
    cheap_ttft, deep_ttft = 220.0 * latency, 650.0 * latency
    cheap_tps, deep_tps = (260.0 / latency, 110.0 / latency) if latency > 0 else (0.0, 0.0)
    glitch = Fault(kind="not_json", probability=0.015)  # now and then the cheap model breaks the triage format
    for item in items:
        cheap_out = len((item.cheap_answer or "").split()) + 18
        rules.append(
            Rule(
                contains=f"{item.tag}:",
                model="haiku",
                confidence=item.confidence,
                answer=item.cheap_answer,
                null_answer=item.cheap_answer is None,
                ttft_ms=cheap_ttft,
                tokens_per_s=cheap_tps,
                usage=UsageOverride(input_tokens=item.input_tokens + TRIAGE_OVERHEAD_TOKENS, output_tokens=cheap_out),
                fault=glitch,
            )
        )
        rules.append(
            Rule(
                contains=f"{item.tag}:",
                answer=item.final_answer,
                tokens=None if item.final_answer is not None else item.final_output_tokens,
                ttft_ms=deep_ttft,
                tokens_per_s=deep_tps,
                usage=UsageOverride(input_tokens=item.input_tokens, output_tokens=item.final_output_tokens),
            )
        )
    return Scenario(rules=tuple(rules), seed=seed)
