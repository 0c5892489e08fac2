#!/usr/bin/env python3
"""gen_corpus.py: a deterministic news corpus for the benchmark, as JSON lines.

    python3 bench/gen_corpus.py --articles 100000 --comments 300000 --out DIR

writes into DIR:
  corpus.jsonl  every article ({"type":"article",...}), then every comment
                ({"type":"comment","article_slug":...,"parent_index"?...}),
                the input of `newsd import --jsonl`;
  meta.json     what the URL lists are drawn from: the vocabulary and the
                phrases by frequency rank, categories, tags, authors, and the
                slug of every article.

The same --seed and sizes give the same bytes on every run (random.Random
with a fixed seed, no dependence on hash order; Python 3.11 was used to make
the published figures). Articles get ids 1..N in file order when imported
into a fresh database.

The text is not English, but it is shaped like news: a body of 3-6 KB in
paragraphs of sentences, about half of whose words are English function
words and half content words drawn from a Zipf distribution (exponent 0.9)
over a vocabulary of VOCAB_SIZE words (a few hundred real news words at the
head, made-up words in the tail). So a word of rank 1 appears in nearly
every article and a word of rank 20,000 in a few hundred of 100,000, as in
real text; phrases (fixed word pairs) recur with their own Zipf weights.
Titles have 6-12 words, articles 1-5 tags out of TAG_COUNT, one of
CATEGORIES, one of about AUTHOR_COUNT authors, and a published_at spread
over ten years. Comments (1-4 sentences) go to articles by popularity (Zipf,
exponent 0.8, over the fixed permutation of ids that popular_id defines),
and about a third reply to an earlier comment of the same article.
"""

import argparse
import itertools
import json
import math
import os
import random
import sys
import time

VOCAB_SIZE = 30000
TAG_COUNT = 2000
AUTHOR_COUNT = 500
PHRASE_COUNT = 3000
EPOCH_FIRST = 1420070400  # 2015-01-01T00:00:00Z
EPOCH_SPAN = 10 * 365 * 86400  # ten years

CATEGORIES = ["World", "Politics", "Business", "Technology", "Science", "Health", "Sport",
              "Culture", "Travel", "Opinion", "Local", "Weather"]

FUNCTION_WORDS = ("the of and to in a is that for on was with as by at from it has have be "
                  "are this an which after their its were been but not said will who also "
                  "more than into over about would could other they had new when up out "
                  "there one two three many most some all last first year").split()

NEWS_WORDS = (
    "government council minister city people police court report president election "
    "market company state water school health hospital price prices energy climate "
    "rail station road bridge harbour festival museum library team season match league "
    "club players coach music film theatre artist exhibition university students research "
    "study scientists data system network software security bank interest rates economy "
    "growth inflation budget tax workers union strike farmers food harvest weather storm "
    "flood rain summer winter spring autumn village town region county district border "
    "trade export import deal talks agreement treaty army defence ministry parliament vote "
    "party leader opposition campaign policy plan project programme service services public "
    "private community residents families children parents teachers doctors nurses patients "
    "airport flights passengers ferry bus tram traffic housing homes rent planning building "
    "construction park garden river coast island mountain forest wildlife species ocean "
    "power plant solar wind grid fuel oil gas carbon emissions pollution waste recycling "
    "court judge trial case lawyers charges investigation officers crime safety fire "
    "emergency rescue volunteers charity funding grant award prize winner record history "
    "century anniversary celebration ceremony mayor governor senator official officials "
    "spokesman statement announcement decision review inquiry committee board members "
    "chairman director manager staff jobs employment wages pension benefits insurance "
    "technology internet phone mobile digital online platform users privacy chips factory "
    "production industry manufacturing cars electric batteries vehicles shipping port "
    "cargo tourism visitors hotel restaurant market shops retail sales customers consumers "
    "survey poll results figures rise fall increase decline quarter month week weekend "
    "morning evening night local national international global european african asian "
    "american northern southern eastern western central capital province republic kingdom "
    "peace war conflict ceasefire aid refugees migrants crisis shortage supply demand "
    "vaccine virus disease treatment medicine cancer heart study trial drug science space "
    "satellite rocket mission launch telescope planet moon lunar orbit discovery fossil "
    "ancient archaeologists excavation castle cathedral church heritage tradition language "
    "books author novel poetry painting concert orchestra band album song stage dance "
    "football rugby cricket tennis cycling marathon swimming olympic championship final "
    "goal victory defeat draw injury transfer contract stadium fans tickets coverage").split()

ONSETS = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
          "br", "cr", "dr", "gr", "pl", "st", "tr", "sk", "sh", "th", "ch", "fl", "gl", "pr"]
NUCLEI = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "ie", "oa"]
CODAS = ["", "", "", "", "n", "r", "l", "s", "t", "m", "nd", "rk", "st", "ng", "ld"]


def zipf_cumulative(n, exponent=1.0):
    """Cumulative weights of a Zipf distribution over ranks 1..n."""
    return list(itertools.accumulate(1.0 / (r ** exponent) for r in range(1, n + 1)))


def make_vocabulary(rng):
    """NEWS_WORDS first (the most frequent), then made-up words, VOCAB_SIZE in all."""
    words = list(dict.fromkeys(w for w in NEWS_WORDS if w not in FUNCTION_WORDS))
    seen = set(words) | set(FUNCTION_WORDS)
    bound = VOCAB_SIZE * 50
    while len(words) < VOCAB_SIZE and bound > 0:
        bound -= 1
        parts = 2 if rng.random() < 0.8 else 3
        word = "".join(rng.choice(ONSETS) + rng.choice(NUCLEI) + rng.choice(CODAS)
                       for _ in range(parts))
        if 5 <= len(word) <= 14 and word not in seen:
            seen.add(word)
            words.append(word)
    if len(words) < VOCAB_SIZE:
        sys.exit("gen_corpus: could not make enough distinct words")
    return words


def popular_id(rank, n):
    """The article id of popularity rank (1-based): a fixed permutation of 1..n, so that
    popular articles are spread over the whole id range and over time."""
    stride = 7919
    while math.gcd(stride, n) != 1:  # ends by stride n + 1 at the latest
        stride += 1
    return ((rank - 1) * stride) % n + 1


class Writer:
    """Text made of Zipf-distributed words, drawn in blocks for speed."""

    def __init__(self, rng, vocab):
        self.rng = rng
        self.vocab = vocab
        self.cum = zipf_cumulative(len(vocab), 0.9)
        self.phrases = self._make_phrases()
        self.phrase_cum = zipf_cumulative(len(self.phrases))
        self.pool = []

    def _make_phrases(self):
        """PHRASE_COUNT fixed pairs of content words of ranks 20..3000, distinct."""
        phrases, seen = [], set()
        for _ in range(PHRASE_COUNT * 10):
            a, b = self.rng.randrange(20, 3000), self.rng.randrange(20, 3000)
            if a != b and (a, b) not in seen:
                seen.add((a, b))
                phrases.append(f"{self.vocab[a]} {self.vocab[b]}")
            if len(phrases) == PHRASE_COUNT:
                break
        return phrases

    def content_word(self):
        if not self.pool:
            self.pool = self.rng.choices(self.vocab, cum_weights=self.cum, k=4096)
        return self.pool.pop()

    def sentence(self):
        rng = self.rng
        words = []
        for _ in range(rng.randint(8, 22)):
            words.append(rng.choice(FUNCTION_WORDS) if rng.random() < 0.45
                         else self.content_word())
        if rng.random() < 0.3:
            phrase = rng.choices(self.phrases, cum_weights=self.phrase_cum)[0]
            words.insert(rng.randrange(len(words) + 1), phrase)
        text = " ".join(words)
        if rng.random() < 0.2:
            cut = text.find(" ", len(text) // 2)
            if cut > 0:
                text = text[:cut] + "," + text[cut:]
        return text[0].upper() + text[1:] + "."

    def paragraph(self, sentences):
        return " ".join(self.sentence() for _ in range(sentences))

    def body(self):
        target = self.rng.randint(3000, 6000)
        paragraphs, size = [], 0
        while size < target:
            paragraphs.append(self.paragraph(self.rng.randint(2, 5)))
            size += len(paragraphs[-1]) + 2
        return "\n\n".join(paragraphs)

    def title(self):
        words = [self.content_word() for _ in range(self.rng.randint(6, 12))]
        return " ".join(w.capitalize() if i == 0 or self.rng.random() < 0.3 else w
                        for i, w in enumerate(words))


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def write_articles(out, rng, writer, n, tags, authors):
    tag_cum = zipf_cumulative(len(tags))
    author_cum = zipf_cumulative(len(authors), 0.8)
    category_cum = zipf_cumulative(len(CATEGORIES), 0.6)
    slugs = []
    for i in range(1, n + 1):
        title = writer.title()
        slug = "-".join(title.lower().split()[:8])[:100].strip("-") + f"-{i}"
        slugs.append(slug)
        article = {
            "type": "article",
            "title": title,
            "slug": slug,
            "body": writer.body(),
            "author": rng.choices(authors, cum_weights=author_cum)[0],
            "category": rng.choices(CATEGORIES, cum_weights=category_cum)[0],
            "tags": sorted(set(rng.choices(tags, cum_weights=tag_cum, k=rng.randint(1, 5)))),
            "published_at": rfc3339(EPOCH_FIRST + rng.randrange(EPOCH_SPAN)),
        }
        if rng.random() < 0.5:
            article["source_url"] = f"https://news.example/{slug}"
        out.write(json.dumps(article, ensure_ascii=False, separators=(",", ":")) + "\n")
    return slugs


def write_comments(out, rng, writer, m, slugs, authors):
    n = len(slugs)
    popularity = zipf_cumulative(n, 0.8)
    counts = [0] * (n + 1)
    ranks = rng.choices(range(1, n + 1), cum_weights=popularity, k=m)
    for rank in ranks:
        article_id = popular_id(rank, n)
        comment = {"type": "comment", "article_slug": slugs[article_id - 1],
                   "author": rng.choice(authors),
                   "body": writer.paragraph(rng.randint(1, 4))}
        if counts[article_id] > 0 and rng.random() < 0.35:
            comment["parent_index"] = rng.randrange(counts[article_id])
        counts[article_id] += 1
        out.write(json.dumps(comment, ensure_ascii=False, separators=(",", ":")) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=100000)
    ap.add_argument("--comments", type=int, default=None, help="default: 3 per article")
    ap.add_argument("--seed", type=int, default=20250712)
    ap.add_argument("--out", required=True, help="directory to write into")
    args = ap.parse_args()
    if args.articles < 1:
        sys.exit("gen_corpus: --articles must be at least 1")
    comments = args.comments if args.comments is not None else 3 * args.articles
    os.makedirs(args.out, exist_ok=True)

    rng = random.Random(args.seed)
    vocab = make_vocabulary(rng)
    writer = Writer(rng, vocab)
    tags = [f"{vocab[r]}" for r in rng.sample(range(50, 8000), TAG_COUNT)]
    authors = sorted({f"{rng.choice(ONSETS).capitalize()}{rng.choice(NUCLEI)}"
                      f"{rng.choice(CODAS)} {vocab[rng.randrange(3000, 20000)].capitalize()}"
                      for _ in range(AUTHOR_COUNT)})

    path = os.path.join(args.out, "corpus.jsonl")
    started = time.monotonic()
    with open(path + ".part", "w", encoding="utf-8") as out:
        slugs = write_articles(out, rng, writer, args.articles, tags, authors)
        write_comments(out, rng, writer, comments, slugs, authors)
    os.replace(path + ".part", path)

    meta = {
        "seed": args.seed,
        "articles": args.articles,
        "comments": comments,
        "vocabulary": vocab,  # by rank: vocabulary[0] is the most frequent content word
        "phrases": writer.phrases,  # by rank
        "categories": CATEGORIES,
        "tags": tags,  # by rank
        "authors": authors,
        "slugs": slugs,  # slugs[i] is article id i + 1
    }
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, separators=(",", ":"))
    size = os.path.getsize(path)
    print(f"gen_corpus: {args.articles} articles, {comments} comments, "
          f"{size / 1e6:.0f} MB in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
