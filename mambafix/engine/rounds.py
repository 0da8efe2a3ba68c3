"""Cross-file rounds: classes in one file that act as Mamba layers or normalized blocks, used in
another. The files that use them are read again with the project-wide index, until nothing new
is learnt (at most MAX_ROUNDS).

Every question here is a lookup, never a scan of the index: a file's unresolved names against the
index's NameIndex (facts/naming.py); a file no check wanted (one with a class, or any file where a
selected check's findings can stand outside classes: Entry.scripts) against the index's class
names by its own imported names (kept in the cache's files table). A file read again in a round is cached
with the lookups its analysis made (name -> key and that summary's digest): where the index
answers them alike, the cached result stands, so a warm run re-reads nothing and an edit re-reads
only the files whose lookups it changes. Cost: the files plus the classes, not their product.
"""

from __future__ import annotations

import hashlib

from mambafix.engine.imports import last_parts, package_of, qualified_names
from mambafix.facts.naming import ClassIndex, NameIndex

MAX_ROUNDS = 3  # a wrapper of a wrapper of a wrapper, at most


class Index:
    """The index as the rounds hold it: its keys in order (a key summarised by several files keeps
    its first place and the last file's summary, as a dict built from them does), each key's
    summary digest and the result holding its summary. Summaries are decoded only to read a file
    again (`with_summaries`)."""

    def __init__(self) -> None:
        self.names = NameIndex()
        self.digests: dict[str, str] = {}
        self.owners: dict = {}
        self._full: ClassIndex | None = None
        self._classes: tuple | None = None

    def put(self, result, replace: bool) -> bool:
        """The result's summaries: new keys added; a key already there takes this summary only
        with `replace` (the first reading). Whether any key was new."""
        new = False
        digests = result.summary_digests()
        for key in result.summary_names():
            if key in self.names and not replace:
                continue
            new |= key not in self.names
            self.names.add(key)
            self.digests[key], self.owners[key] = digests[key], result
            if self._full is not None:
                self._full.add(key, result.summaries[key])
        self._classes = None if new else self._classes
        return new

    def answers_same(self, name: str, key: str | None, digest: str | None) -> bool:
        found = self.names.find(name)
        return found == key and (key is None or self.digests.get(key) == digest)

    def with_summaries(self) -> ClassIndex:
        if self._full is None:
            self._full = ClassIndex()
            for key in self.names.keys():
                self._full.add(key, self.owners[key].summaries[key])
        return self._full

    def classes(self) -> tuple[set[str], dict[str, list[str]], set[str], str]:
        """The index's class names, the keys of each, the names that are not capitalised, and a
        digest of those."""
        if self._classes is None:
            keys_by_name: dict[str, list[str]] = {}
            for key in self.names.keys():
                keys_by_name.setdefault(key.rpartition(".")[2], []).append(key)
            lower = {n for n in keys_by_name if not _capitalised(n)}
            digest = hashlib.sha1("\0".join(sorted(lower)).encode()).hexdigest()[:16]
            self._classes = (set(keys_by_name), keys_by_name, lower, digest)
        return self._classes


def _capitalised(name: str) -> bool:
    return name[:1].isupper()


def _may_learn(source, index: Index, store, root) -> bool:
    """Whether a file no check wanted can look up a class of the index: some dotted name it can
    ask for (an import target, a chain qualified through its imports; engine/imports.py) is one
    the index answers. The answer is kept in the file's memo under a digest of the index keys
    that could answer it (the keys of classes named as its names end), with the capitalised last
    parts of its names, so an unchanged file is read again only where those keys change."""
    names, keys_by_name, lower, lower_digest = index.classes()
    memo, data, learnt = source.memo, None, False
    package = None  # known where the bytes are read
    if "words" not in memo:  # class names are capitalised as a rule: few to keep
        data, package = source.read(), package_of(source.path, root)
        memo["words"], learnt = sorted(last_parts(data, package, _capitalised)), True
    relevant = {n for n in memo["words"] if n in names}
    if lower:  # some class name is not capitalised: those are looked for by their digest
        hits = memo.setdefault("lower", {})
        if lower_digest not in hits:
            data, package = data or source.read(), package or package_of(source.path, root)
            if len(hits) > MAX_ROUNDS:
                hits.clear()
            hits[lower_digest], learnt = sorted(last_parts(data, package, lower.__contains__)), True
        relevant.update(hits[lower_digest])
    answer = False
    if relevant:
        keys = sorted(k for n in relevant for k in keys_by_name[n])
        digest = hashlib.sha1("\0".join(keys).encode()).hexdigest()[:16]
        answers = memo.setdefault("answers", {})
        if digest not in answers:
            data, package = data or source.read(), package or package_of(source.path, root)
            if len(answers) > MAX_ROUNDS:
                answers.clear()
            answers[digest] = any(index.names.find(q) is not None
                                  for q in qualified_names(data, package, relevant.__contains__))
            learnt = True
        answer = answers[digest]
    if learnt and store is not None:
        store.memo_changed()
    return answer


def index_codes_of(prefilter) -> tuple[frozenset[str], bool]:
    """The selected checks that read the index, and whether a finding may stand in a file with no class."""
    from mambafix.checks.registry import class_index_codes, script_codes

    return class_index_codes() & prefilter.codes, bool(script_codes() & prefilter.codes)


def cross_file_rounds(sources, results: dict, config, report, prefilter, jobs, progress, store, run_tasks,
                      variants: dict) -> None:
    """Read again, with the index, the files that can use a class another file summarises
    (`run_tasks` analyses files in the pool, given the index). `variants` gets, for each file
    whose round result stood, the cache's name of that variant (None where none is kept)."""
    index_codes, scripts = index_codes_of(prefilter)
    if index_codes:
        _rounds(sources, results, config, report, index_codes, scripts, jobs, progress, store, run_tasks, variants)


def _rounds(sources, results, config, report, index_codes, scripts, jobs, progress, store, run_tasks, variants) -> None:
    from mambafix.source import SourceError

    index = Index()
    for i in sorted(results):
        index.put(results[i], replace=True)
    for _ in range(MAX_ROUNDS):
        if not len(index.names):
            return
        redo = []
        for i, source in enumerate(sources):
            result = results.get(i)
            if result is not None:
                if result.error is None and any(index.names.find(q) is not None for q in result.unresolved):
                    redo.append(i)
            elif scripts or source.has_class:  # MF001's findings are always in a class
                try:
                    if _may_learn(source, index, store, config.root):
                        redo.append(i)
                except SourceError:
                    continue  # gone since it was listed: nothing to read again
        if not redo:
            return
        again: dict[int, object] = {}
        for i in redo:
            cached = store.get_round(sources[i].key, sources[i].path, index.answers_same) if store is not None else None
            if cached is not None:
                again[i], variants[i] = cached
                report.files_cached += i not in results
        todo = sorted((i for i in redo if i not in again), key=lambda i: -sources[i].size)
        if progress is not None:
            progress(add_total=len(todo))
        if todo:
            tasks = [(sources[i].path, sources[i].data, sources[i].codes | index_codes) for i in todo]
            for i, (key, result) in zip(todo, run_tasks(tasks, config, jobs, progress, index.with_summaries())):
                again[i] = result
                if i in results:
                    report.files_reread += 1
                else:
                    report.files_parsed += 1
                variants[i] = None  # a variant kept below, or none (the file was not read)
                if store is not None and key:
                    looked_up = [(name, found, index.digests[found] if found is not None else None)
                                 for name, found in sorted(result.looked_up.items())]
                    variants[i] = store.store_round(key, result, looked_up)
        changed = False
        for i in redo:
            results[i] = again[i]
            changed |= index.put(again[i], replace=False)
        if not changed:
            return
