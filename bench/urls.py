#!/usr/bin/env python3
"""urls.py: the fixed URL lists the read scenarios cycle through.

Every list holds up to URL_COUNT (1,000) different request paths, drawn with a
fixed seed from a Zipf distribution over the whole corpus: article ids by
popularity rank (gen_corpus.popular_id, the same order in which comments
were handed out), search words by frequency rank within their class. Drawing
without repetition keeps the popular head without letting one hot entry
serve the whole run from a cache. Where a class has fewer than URL_COUNT
members (categories, the first page), the list is shorter; bench.py reports
how many different URLs each scenario had.

    python3 bench/urls.py DATA_DIR   # prints the lists' sizes and first entries
"""

import bisect
import json
import os
import random
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_corpus import popular_id, zipf_cumulative  # noqa: E402

URL_COUNT = 1000
SEED = 4242

# Search word classes, as ranges of the vocabulary's frequency ranks (0-based).
COMMON_RANKS = (0, 2000)  # a word of rank 0 is in nearly every article, of rank 2000 in ~2%
RARE_RANKS = (15000, 30000)  # each in a few dozen (10k corpus) to a few hundred (100k) articles

READ_SCENARIOS = [
    ("get_id", "get one article by id"),
    ("get_slug", "get one article by slug"),
    ("list_first", "first page of the list"),
    ("list_deep", "a deep page via cursor"),
    ("list_filtered", "list filtered by category and/or tag"),
    ("comments", "comments of an article"),
    ("search_common", "search for a common word"),
    ("search_rare", "search for a rare word"),
    ("search_phrase", "search for a phrase"),
    ("search_prefix", "search for a 4-letter prefix"),
    ("search_or", "search for one of two rare words"),
]


def zipf_distinct(rng, n, k, exponent=1.0):
    """Up to k different indices of 0..n-1, drawn by Zipf weight (index 0 heaviest)."""
    cum = zipf_cumulative(n, exponent)
    total = cum[-1]
    chosen, seen = [], set()
    for _ in range(50 * k):  # bounded: the tail may be too light to ever fill k
        if len(chosen) == min(k, n):
            break
        i = bisect.bisect_left(cum, rng.random() * total)
        if i < n and i not in seen:
            seen.add(i)
            chosen.append(i)
    return chosen


def quote(text):
    return urllib.parse.quote(text, safe="")


def article_ranks(rng, n):
    return [popular_id(i + 1, n) for i in zipf_distinct(rng, n, URL_COUNT)]


def search_urls(rng, words, ranks, quoted=False):
    lo, hi = ranks
    pool = words[lo:min(hi, len(words))]
    picked = [pool[i] for i in zipf_distinct(rng, len(pool), URL_COUNT)]
    return ["/v1/search?q=" + quote(f'"{w}"' if quoted else w) for w in picked]


def prefix_urls(rng, words, ranks):
    """word*: the first 4 letters of words of the class (the prefixes in the order
    of their first word's rank), drawn by Zipf weight."""
    lo, hi = ranks
    prefixes = list(dict.fromkeys(w[:4].lower() for w in words[lo:min(hi, len(words))]
                                  if len(w) >= 5 and w[:4].isalpha()))
    picked = [prefixes[i] for i in zipf_distinct(rng, len(prefixes), URL_COUNT)]
    return ["/v1/search?q=" + quote(p + "*") for p in picked]


def or_urls(rng, words, ranks):
    """A OR B: two different words of the class, each drawn by Zipf weight."""
    lo, hi = ranks
    pool = words[lo:min(hi, len(words))]
    first = zipf_distinct(rng, len(pool), URL_COUNT)
    second = list(first)
    rng.shuffle(second)
    return ["/v1/search?q=" + quote(f"{pool[a]} OR {pool[b]}")
            for a, b in zip(first, second) if a != b]


def filtered_urls(rng, meta):
    """category, tag, or both, each value drawn by its Zipf weight in the corpus;
    distinct, with bounded attempts."""
    cats, tags = meta["categories"], meta["tags"]
    cat_cum = zipf_cumulative(len(cats), 0.6)
    tag_cum = zipf_cumulative(len(tags))
    urls, seen = [], set()
    for _ in range(20 * URL_COUNT):
        if len(urls) == URL_COUNT:
            break
        kind = rng.random()
        cat = quote(rng.choices(cats, cum_weights=cat_cum)[0])
        tag = quote(rng.choices(tags, cum_weights=tag_cum)[0])
        if kind < 0.1:
            url = f"/v1/articles?category={cat}"
        elif kind < 0.8:
            url = f"/v1/articles?tag={tag}"
        else:
            url = f"/v1/articles?category={cat}&tag={tag}"
        if url not in seen:
            seen.add(url)
            urls.append(url)
    return urls


def spread(items, k):
    """k items spread evenly over items (all of them when there are fewer)."""
    if len(items) <= k:
        return list(items)
    return [items[(i * len(items)) // k] for i in range(k)]


def build(meta, cursors):
    """scenario name -> list of request paths. cursors: next_cursor values met while
    walking the whole list from the first page (bench.py collects them)."""
    rng = random.Random(SEED)
    n = meta["articles"]
    slugs = meta["slugs"]
    ids = article_ranks(rng, n)
    by_slug = [slugs[i - 1] for i in article_ranks(rng, n)]
    comment_ids = article_ranks(rng, n)
    deep = spread(cursors, URL_COUNT)
    rng.shuffle(deep)
    lists = {
        "get_id": [f"/v1/articles/{i}" for i in ids],
        "get_slug": [f"/v1/articles/{s}" for s in by_slug],
        "list_first": ["/v1/articles"],
        "list_deep": [f"/v1/articles?cursor={quote(c)}" for c in deep],
        "list_filtered": filtered_urls(rng, meta),
        "comments": [f"/v1/articles/{i}/comments" for i in comment_ids],
        "search_common": search_urls(rng, meta["vocabulary"], COMMON_RANKS),
        "search_rare": search_urls(rng, meta["vocabulary"], RARE_RANKS),
        "search_phrase": search_urls(rng, meta["phrases"], (0, len(meta["phrases"])),
                                     quoted=True),
    }
    # the later scenarios draw from their own generator: the lists above stay
    # what they were before these were added
    more = random.Random(SEED + 3)
    lists["search_prefix"] = prefix_urls(more, meta["vocabulary"], COMMON_RANKS)
    lists["search_or"] = or_urls(more, meta["vocabulary"], RARE_RANKS)
    return lists


def comment_targets(meta):
    """Article ids that the create-comment scenario posts to (Zipf by popularity)."""
    return article_ranks(random.Random(SEED + 1), meta["articles"])


def mixed_reads(lists, count=URL_COUNT):
    """A read list for the mixed scenario: the read scenarios interleaved, with the
    weights of a news site (mostly single articles and first pages)."""
    weights = {"get_id": 30, "get_slug": 20, "list_first": 10, "list_deep": 5,
               "list_filtered": 10, "comments": 15, "search_common": 4, "search_rare": 3,
               "search_phrase": 3}
    rng = random.Random(SEED + 2)
    names = [n for n in weights if lists.get(n)]
    picks = rng.choices(names, weights=[weights[n] for n in names], k=count)
    cursor = {n: 0 for n in names}
    out = []
    for name in picks:
        items = lists[name]
        out.append(items[cursor[name] % len(items)])
        cursor[name] += 1
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: urls.py DATA_DIR")
    with open(os.path.join(sys.argv[1], "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    lists = build(meta, [])
    for name, urls in lists.items():
        print(f"{name:15} {len(urls):5} different  e.g. {urls[:3] if urls else '-'}")


if __name__ == "__main__":
    main()
