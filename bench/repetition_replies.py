#!/usr/bin/env python3
"""Writes the replies bench/repetition.sh reads: each prompt below, asked of a llama-server
(the rig's qwen2.5-coder-0.5b) with Baton's default system prompt, not streamed, at one
temperature, with a fixed seed per prompt, max_tokens 700 and the server's own sampling.

    python3 bench/repetition_replies.py PORT TEMPERATURE TAG   # e.g. 8080 0.2 t02

Writes bench/repetition/replies/TAG-NN.txt and appends `TAG-NN.txt<TAB>finish<TAB>tokens` to
bench/repetition/labels.tsv (finish "stop": the model ended the reply; "length": it ran to
max_tokens; the fourth column, what a reply that ran out is, is written by hand after
reading it). Replies already written are skipped, so a run can be resumed.

The prompts ask for code that legitimately repeats its structure (tables, lists of cases,
match arms, data literals, markup), where a guard against loops could go wrong, and for
ordinary tasks.
"""

import json
import os
import sys
import urllib.request

SYSTEM = (
    "You are a specialized coding assistant. Implement code exactly according to the "
    "specification you are given. Follow the patterns of the code you are shown, write clean, "
    "maintainable code and tests, and return only code (no explanations)."
)
MAX_TOKENS = 700
ADD = "def add(a, b):\n    return a + b\n"
CLAMP = "pub fn clamp(x: i32, lo: i32, hi: i32) -> i32 {\n    if x < lo { lo } else if x > hi { hi } else { x }\n}\n"
AVERAGE = "def average(xs):\n    return sum(xs) / len(xs) + 1\n"

PROMPTS = [
    ("Write pytest tests for this function. Reply with only the code.", ADD),
    ("Write a Python dict mapping each HTTP status code from 200 to 505 that you know to its reason phrase.", None),
    ("Write a Rust enum of the days of the week with a method returning each day's short name, using a match.", None),
    ("Write a C function that returns the name of a month given its number 1-12, using a switch statement.", None),
    ("Write an HTML table with 10 rows listing the planets of the solar system with their diameter and number of moons.", None),
    ("Write SQL: create a table `users` and insert 12 example rows.", None),
    ("Write a CSV file with a header and 20 rows of made-up sales data (date, region, product, units, price).", None),
    ("Write a parametrized pytest test for a function is_prime(n) with 15 cases.", None),
    ("Write a Go table-driven test for a function Reverse(s string) string with 10 cases.", None),
    ("Write a JSON config file for a web server with nested sections for http, tls, logging and three upstream backends.", None),
    ("Write a Makefile for a C project with targets all, clean, test, install and one rule per source file for 6 files.", None),
    ("Write a Python function that prints a multiplication table from 1 to 12.", None),
    ("Write a JavaScript object literal listing 15 countries with their capital and ISO code.", None),
    ("Write a Rust struct Config with 12 fields and a Default impl.", None),
    ("Write a bash script that checks for 10 required commands and prints which are missing.", None),
    ("Write a Python class Matrix with add, sub, mul and transpose methods, and a __repr__.", None),
    ("Write Rust unit tests for this function covering edge cases.", CLAMP),
    ("Write a Java class with getters and setters for 8 fields.", None),
    ("Write a YAML GitHub Actions workflow that tests on three operating systems and four Python versions.", None),
    ("Write a Python list of 30 English stop words.", None),
    ("Write a TypeScript interface for a user profile and a function that validates each field.", None),
    ("Write a deeply nested JSON example of an organisation chart with departments, teams and people.", None),
    ("Write a Python function that returns a 9x9 sudoku board as a list of lists, all zeros, then a function to print it.", None),
    ("Write a C header declaring 20 error codes as #define constants with comments.", None),
    ("Write a Python script that parses command line arguments with argparse: 10 options.", None),
    ("Write Rust code implementing Display for an enum with 10 variants.", None),
    ("Fix the bug in this function and return the fixed code.", AVERAGE),
    ("Write a Python function fizzbuzz(n) and tests for it.", None),
    ("Write a regular-expression based tokenizer in Python for arithmetic expressions, with tests.", None),
    ("Write a Dockerfile for a Python web app and a docker-compose.yml with a database and a cache.", None),
    ("Write an nginx config with 5 location blocks.", None),
    ("Write a Python unittest TestCase with 12 test methods for a Stack class, and the class.", None),
    ("Write a Rust function that converts a Roman numeral to an integer, with tests.", None),
    ("Write a markdown table comparing 8 programming languages by typing, paradigm and year.", None),
    ("Write a Python dataclass for a 3D vector with operator overloads for + - * and ==.", None),
    ("Write an SQL query with several joins and a GROUP BY, then the schema it needs.", None),
    ("Write a C program that prints the ASCII table from 32 to 126 in columns.", None),
    ("Write a Python function that converts numbers 0 to 20 to English words using a lookup list.", None),
    ("Write a Rust match over a char that classifies vowels, consonants, digits, whitespace and punctuation.", None),
    ("Write a shell script with a case statement handling start, stop, restart, status and help.", None),
]


def user_message(task, stdin):
    """What `baton dispatch` sends: context first, the task last."""
    if stdin is None:
        return task
    return f"# Context\n\nInput (stdin):\n```\n{stdin.rstrip()}\n```\n\n# Task\n\n{task}"


def main():
    port, temperature, tag = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "repetition")
    os.makedirs(os.path.join(here, "replies"), exist_ok=True)
    for index, (task, stdin) in enumerate(PROMPTS):
        name = f"{tag}-{index:02d}.txt"
        path = os.path.join(here, "replies", name)
        if os.path.exists(path):
            continue
        body = {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": user_message(task, stdin)},
            ],
            "temperature": temperature,
            "max_tokens": MAX_TOKENS,
            "seed": 1000 + index,
            "stream": False,
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        reply = json.load(urllib.request.urlopen(request, timeout=1800))
        choice = reply["choices"][0]
        with open(path, "w") as out:
            out.write(choice["message"]["content"])
        with open(os.path.join(here, "labels.tsv"), "a") as labels:
            labels.write(f"{name}\t{choice['finish_reason']}\t{reply['usage']['completion_tokens']}\n")
        print(f"{name} {choice['finish_reason']}", flush=True)


if __name__ == "__main__":
    main()
