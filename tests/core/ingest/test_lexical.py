from bot.core.ingest.lexical import Lexicon, latin_share, tokenize, words


def test_devanagari_words_keep_their_vowel_signs():
    assert words("वीडियो शेयर किया") == ["वीडियो", "शेयर", "किया"]


def test_identifiers_survive_and_months_fold():
    terms = tokenize("Progress MS-10 docked Nov. 18")
    assert {"ms10", "18", "novemb"} <= set(terms)
    assert "ms" not in terms, "an identifier is one term, not three"
    assert tokenize("November") == tokenize("Nov")
    assert tokenize("time-lapse") == tokenize("time lapse")


def test_stop_words_are_dropped_in_both_languages():
    assert tokenize("What is the rocket?") == ["rocket"]
    assert tokenize("रॉकेट का वीडियो") == ["रॉकेट", "वीडियो"]


def test_coverage_weighs_rare_terms_more():
    lexicon = Lexicon.build([["rocket", "launch"], ["rocket", "baikonur"], ["rocket"]])
    query = ["rocket", "baikonur"]
    assert lexicon.coverage(query, ["baikonur"]) > lexicon.coverage(query, ["rocket"])
    assert lexicon.coverage(query, ["rocket", "baikonur"]) == 1.0


def test_latin_share():
    assert latin_share("Where is Baikonur?") == 1.0
    assert latin_share("रॉकेट लॉन्च") == 0.0


def test_specificity_is_low_when_every_term_is_everywhere():
    lexicon = Lexicon.build([["rocket", "launch", "a"], ["rocket", "launch", "b"], ["rocket", "launch", "c"]])
    assert lexicon.specificity(["rocket", "launch"]) < 0.2
    assert lexicon.specificity(["a"]) > lexicon.specificity(["rocket"])
    assert lexicon.specificity(["never-seen"]) > 0.99
    assert lexicon.specificity([]) == 0.0
