"""Tests for policy_engine.policy.sources against the five real source texts (and a few synthetic ones)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from policy_engine.policy.sources import (
    Appendix,
    Article,
    QuoteCheck,
    SourceIndex,
    cite_label,
    index_source,
    load_source,
    normalise,
    parse_numeral,
    suspicious_debris,
)

POLICIES = Path(__file__).parent.parent / "policies"
GUIYANG = "guiyang-petition-expert-pool"  # 000
XIN = "xin-county-iit-expert-pool"  # 001
CHIFENG = "chifeng-decision-expert-pool"  # 002
CHONGQING = "chongqing-petition-responsibility"  # 003, Traditional script, debris
XJ = "xj-iit-expert-pool"  # 004, appendices
ALL = (GUIYANG, XIN, CHIFENG, CHONGQING, XJ)
DEBRIS_STEPS = ("whitespace", "pinyin_debris")


def source_path(folder: str) -> Path:
    return POLICIES / folder / "source.txt"


def steps_for(folder: str) -> tuple[str, ...]:
    return DEBRIS_STEPS if folder == CHONGQING else ("whitespace",)


@pytest.fixture(scope="module")
def idx() -> dict[str, SourceIndex]:
    return {f: load_source(source_path(f), steps_for(f)) for f in ALL}


def numbers(ix: SourceIndex) -> list[int]:
    return [a.number for a in ix.articles]


# ----------------------------------------------------------------- articles and numbering


def test_guiyang_articles_one_to_twenty_two(idx):
    ix = idx[GUIYANG]
    assert numbers(ix) == list(range(1, 23))
    assert [a.label for a in ix.articles][:2] == ["第一条", "第二条"]
    assert ix.article(1).line == 19
    assert ix.appendices == ()


def test_xin_county_has_twenty_article_starts_with_two_sixth_articles(idx):
    ix = idx[XIN]
    assert len(ix.articles) == 20
    assert numbers(ix) == [1, 2, 3, 4, 5, 6, 6] + list(range(7, 20))
    assert [a.occurrence for a in ix.articles_numbered(6)] == [1, 2]
    assert [a.occurrence for a in ix.articles_numbered(7)] == [1]


def test_chifeng_articles_one_to_twenty_four(idx):
    assert numbers(idx[CHIFENG]) == list(range(1, 25))


def test_chongqing_traditional_articles_one_to_twenty(idx):
    ix = idx[CHONGQING]
    assert numbers(ix) == list(range(1, 21))
    assert ix.article(1).label == "第一條"
    assert ix.article(20).label == "第二十條"
    # the '?' debris after the label is not part of the label
    assert ix.article(11).text.startswith("第十一條?各級")


def test_xj_articles_one_to_twenty_one_and_three_appendices(idx):
    ix = idx[XJ]
    assert numbers(ix) == list(range(1, 22))
    assert [ap.number for ap in ix.appendices] == [1, 2, 3]
    # indented article lines (ASCII space, U+3000, four spaces) are article starts
    assert ix.article(1).line == 10
    assert ix.article(5).line == 18
    assert ix.article(10).line == 52


def test_references_inside_sentences_are_not_article_starts(idx):
    ix = idx[XIN]
    # 第十一条（六） mentions “第十六条” and “第九条第四款”; 第六条 mentions 第四条
    assert "“第十六条”情形的" in ix.article(11).text
    assert "本办法第四条规定外" in ix.article(6, 1).text
    assert len(ix.articles_numbered(16)) == 1 and ix.article(16).line == 139
    assert len(ix.articles_numbered(4)) == 1


def test_line_initial_reference_is_not_an_article_start():
    text = (
        "第一条 专家应当在10个工作日内报备，逾期不报备且发生\n"
        "第十六条”情形的，视为违规。\n"
        "第二条 除符合本办法\n"
        "第四条规定外，还应符合以下条件。\n"
        "第三条 本办法自印发之日起施行。\n"
    )
    ix = index_source(text)
    assert numbers(ix) == [1, 2, 3]
    assert ix.verify_quote("逾期不报备且发生第十六条”情形的", 1).ok
    assert ix.verify_quote("除符合本办法第四条规定外", 2).ok


def test_article_starts_after_indentation_bullets_and_debris():
    text = (
        "标题\n"
        "- 第一条 甲。\n"
        "\t第二条　乙。\n"
        "\u3000\u3000第三條?丙。\n"
        "第四条丁。\n"
    )
    ix = index_source(text)
    assert numbers(ix) == [1, 2, 3, 4]
    assert ix.article(1).text == "第一条 甲。"  # bullet stripped
    assert ix.article(3).label == "第三條"
    assert ix.article(4).text == "第四条丁。"


# ------------------------------------------------------------------- occurrences, lookups


def test_two_sixth_articles_told_apart(idx):
    ix = idx[XIN]
    first, second = ix.article(6, 1), ix.article(6, 2)
    assert (first.line, first.end_line) == (47, 57)
    assert (second.line, second.end_line) == (59, 59)
    assert "专家入库专业技术条件" in first.text and "专家库办公室牵头" not in first.text
    assert "专家库办公室牵头专家库建设" in second.text
    assert ix.verify_quote("专家库办公室牵头专家库建设", 6, 2).ok


def test_sixth_article_without_occurrence_is_ambiguous(idx):
    ix = idx[XIN]
    with pytest.raises(LookupError, match=r"ambiguous.*occurrence 1 or 2"):
        ix.article(6)
    with pytest.raises(LookupError, match="ambiguous"):
        ix.verify_quote("专家入库专业技术条件", 6)
    with pytest.raises(LookupError, match="no occurrence 3"):
        ix.article(6, 3)
    # an unambiguous article may still be asked for by occurrence 1
    assert ix.article(7, 1) is ix.article(7)


def test_missing_article_paragraph_item_raise_lookup_error(idx):
    ix = idx[CHIFENG]
    with pytest.raises(LookupError, match="no 第二十五条"):
        ix.article(25)
    with pytest.raises(LookupError, match="2 paragraph"):
        ix.passage(10, paragraph=3)
    with pytest.raises(LookupError, match="no 第七条第（五）项"):
        ix.passage(7, item=5)
    with pytest.raises(LookupError):
        ix.verify_quote("本办法", 25)


def test_item_without_paragraph_must_be_unique():
    text = (
        "第一条 有下列情形之一的，暂停：\n"
        "（一）甲情形；\n"
        "（二）乙情形。\n"
        "有下列情形之一的，取消：\n"
        "（一）丙情形；\n"
        "（二）丁情形。\n"
    )
    ix = index_source(text)
    art = ix.article(1)
    assert len(art.paragraphs) == 2
    with pytest.raises(LookupError) as err:
        ix.passage(1, item=1)
    assert "第一条第一款第（一）项" in str(err.value)
    assert "第一条第二款第（一）项" in str(err.value)
    assert ix.passage(1, paragraph=2, item=1) == "（一）丙情形；"
    assert ix.verify_quote("丙情形", 1, paragraph=2, item=1).ok
    bad = ix.verify_quote("丙情形", 1, paragraph=1, item=1)
    assert not bad.ok
    # item numbers repeat across paragraphs, so the paragraph is named
    assert bad.found_elsewhere == "第一条第二款第（一）项"


# ----------------------------------------------------------------------------- items


def test_xj_fifth_article_item_five_age_limit(idx):
    ix = idx[XJ]
    item = ix.article(5).paragraphs[0].items[4]
    assert (item.number, item.label, item.line) == (5, "（五）", 24)
    assert "年龄一般不超过65周岁" in ix.passage(5, item=5)
    assert ix.verify_quote("年龄一般不超过65周岁", 5, item=5).ok
    assert ix.verify_quote("年龄一般不超过65周岁", 5, paragraph=1, item=5).ok


def test_guiyang_sixth_article_item_four_with_or_without_spaces(idx):
    ix = idx[GUIYANG]
    assert ix.passage(6, item=4).startswith("(四) 年龄一般在 30 岁以上")
    assert ix.verify_quote("年龄一般在 30 岁以上", 6, item=4).ok
    assert ix.verify_quote("年龄一般在30岁以上", 6, item=4).ok
    assert ix.verify_quote("年龄一般在　30　岁以上、65 岁以下", 6, item=4).ok
    assert not ix.verify_quote("年龄一般在31岁以上", 6, item=4).ok


def test_guiyang_broken_item_seven_four_keeps_its_continuation(idx):
    ix = idx[GUIYANG]
    text = ix.passage(7, item=4)
    assert text == "(四) 网上公示：通过资格审查的专家名单在贵阳市信\n访局在网上公示，公示期为7天。"
    assert ix.verify_quote("公示期为7天", 7, item=4).ok
    # a quote across the line break (and the blank line in the source) matches
    assert ix.verify_quote("专家名单在贵阳市信访局在网上公示", 7, item=4).ok
    art = ix.article(7)
    assert len(art.paragraphs) == 1
    assert [it.label for it in art.paragraphs[0].items] == ["(一)", "(二)", "(三)", "(四)", "（五）"]
    assert art.paragraphs[0].items[3].line == 49


def test_guiyang_bulleted_item_eighteen_seven(idx):
    ix = idx[GUIYANG]
    item = ix.article(18).paragraphs[0].items[6]
    assert (item.number, item.label, item.line) == (7, "(七)", 145)
    assert item.text == "(七) 3年任期内无故缺席专家库有关活动三次以上的;"
    assert ix.verify_quote("3年任期内无故缺席专家库有关活动三次以上的", 18, item=7).ok
    assert [it.number for it in ix.article(18).paragraphs[0].items] == list(range(1, 11))
    # bullets are layout, not text: a quote across two bulleted items matches the article
    assert ix.verify_quote("追究刑事责任的;(二) 发表与党中央", 18).ok
    assert "- " not in ix.article(18).text


def test_continuation_lines_join_the_previous_item(idx):
    xj = idx[XJ]
    assert xj.passage(6, item=1).endswith("各推荐单位\n负责推荐本领域行业专家。")
    assert xj.verify_quote("各推荐单位负责推荐本领域行业专家", 6, item=1).ok
    assert len(xj.article(6).paragraphs) == 1
    gy = idx[GUIYANG]
    assert gy.verify_quote("各区（市、县）党委、政府，双龙航空港经济区", 9, item=2).ok
    assert len(gy.article(9).paragraphs) == 1


# ------------------------------------------------------------------------ paragraphs


def test_chongqing_eleventh_article_two_paragraphs(idx):
    ix = idx[CHONGQING]
    art = ix.article(11)
    assert len(art.paragraphs) == 2
    p1, p2 = art.paragraphs
    assert [it.number for it in p1.items] == list(range(1, 10))
    assert p1.items[0].label == "(一)"
    assert p2.items == ()
    assert p2.line == 41
    assert ix.passage(11, paragraph=2, clean=True).startswith("對前款規定中涉及的集體責任")
    assert ix.verify_quote("對前款規定中涉及的集體責任", 11, paragraph=2).ok
    assert ix.verify_quote("其他應當追究責任的失職失責情形", 11, paragraph=1, item=9).ok


def test_chongqing_second_article_three_paragraphs(idx):
    art = idx[CHONGQING].article(2)
    assert [p.line for p in art.paragraphs] == [4, 5, 6]
    assert idx[CHONGQING].verify_quote("國有和國有控股企業參照本細則執行", 2, paragraph=3).ok


def test_xin_county_first_sixth_article_paragraphs(idx):
    ix = idx[XIN]
    art = ix.article(6, 1)
    assert len(art.paragraphs) == 2
    p1, p2 = art.paragraphs
    assert p1.text == "第六条 专家入库专业技术条件："
    assert p1.items == ()
    assert p2.text.startswith("政策法律、产业技术、财务审计等领域专家除符合本办法第四条规定外，还应符合以下条件：")
    assert [it.label for it in p2.items] == ["(一)", "(二)", "(三)", "(四)"]
    # an item given without a paragraph is found in paragraph 2
    assert ix.verify_quote("应从事本行业十年以上", 6, 1, item=4).ok
    assert ix.verify_quote("应从事本行业十年以上", 6, 1, paragraph=2, item=4).ok


def test_chifeng_paragraph_counts(idx):
    ix = idx[CHIFENG]
    assert len(ix.article(10).paragraphs) == 2
    assert ix.passage(10, paragraph=2) == "专家实行聘任制，聘期一般不超过5年。"
    art16 = ix.article(16)
    assert len(art16.paragraphs) == 5
    assert [p.line for p in art16.paragraphs] == [66, 67, 68, 69, 70]
    assert ix.verify_quote("以机构名义出具书面论证报告", 16, paragraph=5).ok
    assert not ix.verify_quote("以机构名义出具书面论证报告", 16, paragraph=4).ok
    # a blank line between items does not start a paragraph
    assert len(ix.article(11).paragraphs) == 1
    assert len(ix.article(11).paragraphs[0].items) == 5


def test_other_paragraph_counts(idx):
    assert len(idx[GUIYANG].article(14).paragraphs) == 4
    assert len(idx[GUIYANG].article(10).paragraphs) == 2
    assert len(idx[CHIFENG].article(6).paragraphs) == 2  # blank line between paragraphs


def test_line_ending_in_closing_quote_after_full_stop_is_terminated():
    text = "第一条 本办法所称“专家库，是指信息化平台。”\n专家库由厅建设。\n"
    assert len(index_source(text).article(1).paragraphs) == 2


def test_unit_texts_nest(idx):
    for f in ALL:
        ix = idx[f]
        for art in ix.articles:
            assert art.text == "\n".join(p.text for p in art.paragraphs)
            assert art.norm == normalise(art.text, ix.steps)
            assert art.paragraphs[0].text.startswith(art.label)
            assert art.paragraphs[0].line == art.line
            for p in art.paragraphs:
                assert p.norm == normalise(p.text, ix.steps)
                for it in p.items:
                    assert it.text in p.text
                    assert it.text.startswith(it.label)
                    assert it.norm == normalise(it.text, ix.steps)


# ------------------------------------------------------------- chapters, header, trailer


def test_chapters_end_articles_and_name_them(idx):
    cq = idx[CHONGQING]
    assert cq.article(1).chapter == "第一章 總 則"
    assert cq.article(19).chapter == "第五章 附?則"
    assert "第五章" not in cq.article(18).text
    assert cq.article(18).end_line == 50
    assert idx[XIN].article(1).chapter is None
    gy = idx[GUIYANG]
    assert "第二章" not in gy.article(5).text
    assert gy.article(6).chapter == "第二章 专家的入库与工作职责"


def test_text_before_the_first_article_belongs_to_no_article(idx):
    ix = idx[CHIFENG]
    check = ix.verify_quote("此件主动公开", 1)
    assert not check.ok
    assert check.found_elsewhere == "the text outside any article (line 17)"
    assert all("此件主动公开" not in a.text for a in ix.articles)


def test_chifeng_footer_is_a_trailer_not_part_of_the_last_article(idx):
    ix = idx[CHIFENG]
    art = ix.article(24)
    assert len(art.paragraphs) == 1 and art.end_line == 91
    assert ix.trailer == "赤峰市人民政府办公室秘书二科"
    assert ix.trailer_line == 92
    assert ix.verify_quote("赤峰市人民政府办公室秘书二科", 24).found_elsewhere == "the document trailer (line 92)"
    for f in (GUIYANG, XIN, CHONGQING, XJ):
        assert idx[f].trailer is None


# ------------------------------------------------------------------------ appendices


def test_xj_appendix_boundaries(idx):
    ix = idx[XJ]
    a1, a2, a3 = ix.appendices
    assert isinstance(a1, Appendix)
    assert [(a.label, a.line, a.end_line) for a in ix.appendices] == [
        ("附表１", 104, 153),
        ("附表２", 155, 225),
        ("附表3", 228, 370),
    ]
    assert "推荐单位（加盖公章）" in a1.text and "综合经济等" in a1.text
    assert "使用审批表" in a2.text and "履职情况评价表" not in a2.text
    assert "评价等级：优秀（90-100分）" in a3.text
    assert ix.appendix(3) is a3
    with pytest.raises(LookupError):
        ix.appendix(4)


def test_xj_article_twenty_one_keeps_its_attachment_list_but_not_the_forms(idx):
    ix = idx[XJ]
    art = ix.article(21)
    assert (art.line, art.end_line) == (98, 103)
    assert len(art.paragraphs) == 2
    assert art.paragraphs[1].text.startswith("附表：1.新疆维吾尔自治区工业和信息化专家库入库申请表")
    assert "3.新疆维吾尔自治区工业和信息化专家履职情况评价表" in art.text
    assert "附表１" not in art.text and "推荐单位" not in art.text
    check = ix.verify_quote("推荐单位（加盖公章）", 21)
    assert not check.ok and check.found_elsewhere == "附表１"


# ------------------------------------------------------------ quote checks and mistakes


def test_quote_in_the_wrong_article_names_the_right_one(idx):
    ix = idx[XJ]
    check = ix.verify_quote("年龄一般不超过65周岁", 6)
    assert isinstance(check, QuoteCheck)
    assert not check.ok
    assert check.where == "第六条"
    assert check.found_elsewhere == "第五条第（五）项"
    # something from 第六条 to compare with, about the quote's length
    assert check.closest and 8 <= len(normalise(check.closest, ["whitespace"])) <= 16
    assert normalise(check.closest, ["whitespace"]) in ix.article(6).norm


def test_quote_in_the_wrong_item_names_the_right_item(idx):
    check = idx[XJ].verify_quote("年龄一般不超过65周岁", 5, item=4)
    assert not check.ok
    assert check.where == "第五条第（四）项"
    assert check.found_elsewhere == "第五条第（五）项"


def test_wrong_sixth_article_is_named_by_occurrence(idx):
    ix = idx[XIN]
    check = ix.verify_quote("专家库办公室牵头专家库建设", 6, 1)
    assert not check.ok
    assert check.where == "第六条(first of two)"
    assert check.found_elsewhere == "第六条(second of two)"
    item_check = ix.verify_quote("专家库办公室牵头", 6, 1, item=4)
    assert item_check.where == "第六条(first of two)第（四）项"


def test_typo_gets_the_closest_source_passage(idx):
    check = idx[XJ].verify_quote("年龄一般不超过60周岁", 5, item=5)
    assert not check.ok
    assert check.found_elsewhere is None
    assert check.closest == "年龄一般不超过65周岁"


def test_closest_is_shown_without_debris(idx):
    ix = idx[CHONGQING]
    check = ix.verify_quote("各級信訪部門應當在黨委和政府的統一领導下", 6)  # 领: simplified typo
    assert not check.ok
    assert check.closest == "各級信訪部門應當在黨委和政府的統一領導下"


def test_quote_spanning_items_is_found_at_paragraph_level(idx):
    ix = idx[XJ]
    quote = "年龄一般不超过65周岁；（六）参选专家应取得"
    assert ix.verify_quote(quote, 5).ok
    check = ix.verify_quote(quote, 5, item=5)
    assert not check.ok and check.found_elsewhere == "第五条"


def test_empty_quote_is_not_ok(idx):
    ix = idx[GUIYANG]
    for quote in ("", "   ", "\u3000\n\t"):
        check = ix.verify_quote(quote, 1)
        assert not check.ok and check.closest is None and check.found_elsewhere is None


def test_matching_is_exact_no_bracket_width_or_script_folding(idx):
    gy = idx[GUIYANG]
    assert gy.verify_quote("(四) 网上公示", 7, item=4).ok
    assert not gy.verify_quote("（四） 网上公示", 7, item=4).ok
    cq = idx[CHONGQING]
    assert cq.verify_quote("本細則自2017年5月23日起施行", 20).ok
    assert not cq.verify_quote("本细则自2017年5月23日起施行", 20).ok  # simplified script


# ---------------------------------------------------------------- normalisation, debris


def test_whitespace_step_removes_all_whitespace():
    assert normalise("年龄一般在 30 岁以上", ["whitespace"]) == "年龄一般在30岁以上"
    assert normalise("第十四条\xa0\xa0参与\u3000论证\t的\n专家\r\n", ["whitespace"]) == "第十四条参与论证的专家"
    assert normalise("a\u200bb\ufeffc", ["whitespace"]) == "abc"
    assert normalise("年龄 30", []) == "年龄 30"


def test_pinyin_debris_removed():
    steps = ["pinyin_debris"]
    assert normalise("責(zé)任", steps) == "責任"
    assert normalise("第一條?為了進(jìn)一步", steps) == "第一條為了進一步"
    assert normalise("第二十條?本細(xì)則", steps) == "第二十條本細則"
    assert normalise("第三条?落实", steps) == "第三条落实"
    assert normalise("號(hào)處(chǔ)女(nǚ)", steps) == "號處女"


def test_legitimate_brackets_survive_debris_removal():
    steps = ["pinyin_debris"]
    assert normalise("(一)閱批群眾來(lái)信", steps) == "(一)閱批群眾來信"
    assert normalise("(廳字〔2016〕32號(hào))等規(guī)定", steps) == "(廳字〔2016〕32號)等規定"
    assert normalise("(二)", steps) == "(二)"
    # no tone mark, two syllables/tone marks, not a syllable, or not after a CJK character
    for kept in ("的(de)", "號(hàozé)", "号(abc)", "号(PDF)", "号(xyzé)", "私Y(jié)果", "A(zé)", "(zé)"):
        assert normalise(kept, steps) == kept
    # '?' elsewhere is not removed
    assert normalise("附?則", steps) == "附?則"
    assert normalise("第一章?總則", steps) == "第一章?總則"


def test_chongqing_debris_normalised_text(idx):
    ix = idx[CHONGQING]
    clean = normalise(ix.text, ["pinyin_debris"])
    assert "(zé)" not in clean and "條?" not in clean
    assert "重慶市信訪工作責任制實施細則" in clean
    assert "(廳字〔2016〕32號)等規定" in clean
    # corruption that is not the listed debris is left alone, with its neighbours intact
    assert "進行考核??己私Y(jié)果作為" in clean
    assert "嚴重?fù)p害信訪群眾" in clean
    assert "作為業績?cè)u(píng)定、獎勵處罰" in clean
    assert "第五章 附?則" in clean
    assert ix.passage(1, clean=True).startswith("第一條為了進一步落實各級黨政機關")


def test_chongqing_quotes_verify_with_or_without_debris(idx):
    ix = idx[CHONGQING]
    assert ix.verify_quote("本細則自2017年5月23日起施行", 20).ok
    assert ix.verify_quote("本細(xì)則自2017年5月23日起施行", 20).ok
    assert ix.verify_quote("第一條?為了進(jìn)一步", 1).ok
    assert ix.verify_quote("第一條為了進一步落實", 1).ok
    assert ix.verify_quote("(廳字〔2016〕32號)", 1).ok
    # without the debris step the clean quote does not match the raw text
    plain = load_source(source_path(CHONGQING), ("whitespace",))
    assert not plain.verify_quote("本細則自2017年5月23日起施行", 20).ok
    assert plain.verify_quote("本細(xì)則自2017年5月23日起施行", 20).ok


def test_suspicious_debris_lists_leftovers():
    text = source_path(CHONGQING).read_text(encoding="utf-8")
    assert suspicious_debris(text) == [
        (28, "??"),
        (28, "Y(jié)"),
        (33, "?fù)p"),
        (50, "?cè)u(píng)"),
        (51, "?"),
    ]
    # without normalisation, all the bracket debris is reported
    raw = suspicious_debris(text, steps=[])
    assert (1, "(zé)") in raw and len(raw) > 100


def test_suspicious_debris_on_clean_texts():
    for f in (GUIYANG, XIN, CHIFENG):
        assert suspicious_debris(source_path(f).read_text(encoding="utf-8")) == []
    # Latin inside CJK text is reported for review even when legitimate (a form template)
    assert suspicious_debris(source_path(XJ).read_text(encoding="utf-8")) == [(201, "X")] * 3
    assert suspicious_debris("(一)(二)(廳字〔2016〕32號)") == []


def test_unknown_steps_rejected():
    with pytest.raises(ValueError, match="unknown normalisation step"):
        normalise("x", ["lowercase"])
    with pytest.raises(ValueError):
        index_source("第一条 甲。", ["whitespace", "nfkc"])
    with pytest.raises(TypeError):
        normalise("x", "whitespace")


# ---------------------------------------------------------------- labels and numerals


def test_cite_label():
    assert cite_label(5) == "第五条"
    assert cite_label(5, item=5) == "第五条第（五）项"
    assert cite_label(11, 2) == "第十一条第二款"
    assert cite_label(12, 2, 3) == "第十二条第二款第（三）项"
    assert cite_label(21) == "第二十一条"
    assert cite_label(10, item=10) == "第十条第（十）项"
    assert cite_label(3, appendix=True) == "附表3"
    with pytest.raises(ValueError):
        cite_label(0)
    with pytest.raises(ValueError):
        cite_label(3, paragraph=1, appendix=True)


@pytest.mark.parametrize("s, n", [("一", 1), ("十", 10), ("十一", 11), ("二十", 20), ("二十四", 24), ("一百零一", 101)])
def test_parse_numeral(s, n):
    assert parse_numeral(s) == n


@pytest.mark.parametrize("s", ["", "abc", "21", "十十", "一二", "负一", "一点五", "两", "第一"])
def test_parse_numeral_rejects(s):
    with pytest.raises(ValueError):
        parse_numeral(s)


# ------------------------------------------------------------------- loading


def test_load_source_records_digest_and_steps(idx):
    for f in ALL:
        ix = idx[f]
        data = source_path(f).read_bytes()
        assert ix.sha256 == hashlib.sha256(data).hexdigest()
        assert ix.text == data.decode("utf-8")
        assert ix.steps == steps_for(f)
    assert index_source("第一条 甲。").steps == ("whitespace",)


def test_dataclasses_are_frozen(idx):
    art = idx[GUIYANG].article(1)
    assert isinstance(art, Article)
    with pytest.raises(AttributeError):
        art.number = 2  # type: ignore[misc]


def test_every_paragraph_tail_verifies_in_its_own_paragraph():
    """The index and the quote check agree with each other on every paragraph of every text."""
    for f in ALL:
        ix = index_source(source_path(f).read_text(encoding="utf-8"), steps_for(f))
        for art in ix.articles:
            for p in art.paragraphs:
                check = ix.verify_quote(p.norm[-12:], art.number, art.occurrence, p.number)
                assert check.ok, (f, art.label, p.number, p.norm[-12:])


# -- sub-items (目): numbered points inside an item ----------------------------------------------------

SUBITEMS = """第一条 总则。
第九条 有下列情形之一的，按下列规定处理：
（一）情节较轻的，予以警告；
（二）情节较重的，分别处理：
1、初次发生的，予以通报；
2、再次发生的，予以约谈，
并限期整改；
（3）拒不整改的，暂停资格。
（三）情节严重的，取消资格。
违反前款规定造成损失的，按损失的1.5倍赔偿。
有第一款情形的，应当记录。
第十条 附则。
"""


def test_numbered_points_in_an_item_are_sub_items_not_paragraphs():
    ix = index_source(SUBITEMS)
    art = ix.article(9)
    assert [p.number for p in art.paragraphs] == [1, 2, 3]  # 1、 2、 （3） start no 款
    assert art.paragraphs[1].text == "违反前款规定造成损失的，按损失的1.5倍赔偿。"
    item = art.paragraphs[0].items[1]
    assert [(s.number, s.label, s.line) for s in item.subitems] == [(1, "1、", 5), (2, "2、", 6), (3, "（3）", 8)]
    assert item.subitems[1].text == "2、再次发生的，予以约谈，\n并限期整改；"  # a continuation stays in its 目
    assert "拒不整改" in item.text and "拒不整改" not in art.paragraphs[0].items[2].text
    assert ix.verify_quote("再次发生的，予以约谈，并限期整改", 9, paragraph=1, item=2, subitem=2).ok
    assert ix.verify_quote("再次发生的", 9, item=2, subitem=2).ok  # the item is unique: no paragraph needed
    assert ix.verify_quote("再次发生的", 9, item=2).ok  # an item holds its sub-items' words
    wrong = ix.verify_quote("再次发生的", 9, paragraph=1, item=2, subitem=1)
    assert not wrong.ok and wrong.where == "第九条第一款第（二）项第1目"
    assert wrong.found_elsewhere == "第九条第（二）项第2目"
    assert ix.verify_quote("有第一款情形的，应当记录", 9, paragraph=3).ok
    with pytest.raises(LookupError, match=r"there is no 第九条第（二）项第4目 \(that item has 1、2、（3）\)"):
        ix.passage(9, item=2, subitem=4)
    with pytest.raises(LookupError, match="no numbered sub-items"):
        ix.passage(9, item=1, subitem=1)
    with pytest.raises(LookupError, match="give the item"):
        ix.passage(9, paragraph=1, subitem=1)


@pytest.mark.parametrize("line,point", [
    ("1、初次发生的；", True), ("2.初次发生的；", True), ("3．初次发生的；", True), ("（1）初次发生的；", True),
    ("(2)初次发生的；", True), ("１、初次发生的；", True), ("  　1. 初次发生的；", True),
    ("1.5倍以下罚款。", False), ("2019年3月2日修订。", False), ("一、初次发生的；", False),
])
def test_what_starts_a_sub_item(line, point):
    text = f"第一条 有下列情形之一的：\n（一）甲情形：\n{line}\n第二条 附则。\n"
    art = index_source(text).article(1)
    subs = art.paragraphs[0].items[0].subitems
    assert (len(subs) == 1) is point
    # a numbered point never starts a paragraph; any other line after the item's terminal colon does
    assert len(art.paragraphs) == (1 if point else 2)


def test_a_numbered_line_outside_an_item_continues_its_paragraph_and_a_new_paragraph_after_points_is_counted():
    text = "第一条 下列材料：\n1.申请表；\n2.审批表。\n前款材料应当存档。\n第二条 附则。\n"
    art = index_source(text).article(1)
    assert [p.text for p in art.paragraphs] == ["第一条 下列材料：\n1.申请表；\n2.审批表。", "前款材料应当存档。"]
    assert art.paragraphs[0].items == ()


def test_cite_label_of_a_sub_item():
    assert cite_label(9, 1, 2, subitem=1) == "第九条第一款第（二）项第1目"
    assert cite_label(7, item=3, subitem=12) == "第七条第（三）项第12目"
    with pytest.raises(ValueError, match="within its item"):
        cite_label(9, 1, subitem=1)
    with pytest.raises(ValueError):
        cite_label(9, 1, 2, subitem=0)


# The two national texts, as copied unedited into their policies' folders (each policy's sha256 pins it).
NATIONAL = {"gov-sanctions-law-2020.txt": POLICIES / "gov-sanctions-law" / "source.txt",
            "bidding-law-regs-2019.txt": POLICIES / "bidding-law-regs" / "source.txt"}


def test_the_real_texts_numbered_lists_are_no_paragraphs():
    """004 第二十一条 lists its forms 1. 2. 3. on lines of their own: one paragraph, not three; no text of the
    project has numbered points inside an item, so none has a sub-item, and the paragraph counts stay."""
    ix = load_source(source_path(XJ))
    art = ix.article(21)
    assert len(art.paragraphs) == 2
    assert ix.verify_quote("3.新疆维吾尔自治区工业和信息化专家履职情况评价表", 21, paragraph=2).ok
    for folder in ALL:
        ix = load_source(source_path(folder), steps_for(folder))
        assert not [s for a in ix.articles for p in a.paragraphs for it in p.items for s in it.subitems], folder


@pytest.mark.parametrize("name,article,paragraphs,items", [
    ("gov-sanctions-law-2020.txt", 7, 1, 6),
    ("gov-sanctions-law-2020.txt", 8, 2, 4),
    ("bidding-law-regs-2019.txt", 46, 4, 0),
])
def test_the_national_texts_paragraphs(name, article, paragraphs, items):
    ix = load_source(NATIONAL[name])
    art = ix.article(article)
    assert len(art.paragraphs) == paragraphs
    assert sum(len(p.items) for p in art.paragraphs) == items
    assert not [s for a in ix.articles for p in a.paragraphs for it in p.items for s in it.subitems]


# -- quotes from a second text the policy declares (texts:, cite: {text: ...}) --------------------------

import shutil  # noqa: E402

from policy_engine import decide, load_policy  # noqa: E402
from policy_engine.policy.loader import check_policy  # noqa: E402

LAW = NATIONAL["gov-sanctions-law-2020.txt"]
LAW_NAME = "gov-sanctions-law-2020.txt"  # the name the other text is copied under
LAW_TITLE = "中华人民共和国公职人员政务处分法"
XJ_POLICY = "2025-04-21.yaml"
# A test policy: the 004 policy with one recusal ground re-cited to 政务处分法 第七条第（一）项. Only the
# mechanism is under test; no bundled policy cites 政务处分法 (see the README's "Citing another text").
RECITED = ("      cite: {article: 15, item: 1}\n      quote: 系被评审项目的负责人或参与人员",
           "      cite: {text: gov-sanctions-law, article: 7, item: 1}\n      quote: 警告")


def _law_tree(tmp_path: Path, *, texts: str | None = None, cite: str = RECITED[1], copy: bool = True) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(POLICIES / "_shared", root / "_shared")
    folder = root / XJ
    folder.mkdir()
    shutil.copy(POLICIES / XJ / "source.txt", folder / "source.txt")
    if copy:
        (root / "_shared" / "texts").mkdir()
        shutil.copy(LAW, root / "_shared" / "texts" / LAW_NAME)
    sha = hashlib.sha256(LAW.read_bytes()).hexdigest()
    if texts is None:
        texts = (f"texts:\n  - id: gov-sanctions-law\n    title: {LAW_TITLE}\n"
                 f"    file: ../_shared/texts/{LAW_NAME}\n    sha256: {sha}\n")
    policy = (POLICIES / XJ / XJ_POLICY).read_text(encoding="utf-8")
    assert RECITED[0] in policy
    policy = policy.replace(RECITED[0], cite).replace("source_defects:\n", texts + "source_defects:\n", 1)
    (folder / XJ_POLICY).write_text(policy, encoding="utf-8")
    return folder / XJ_POLICY


def _line_of(file: Path, words: str) -> int:
    lines = file.read_text(encoding="utf-8").split("\n")
    return next(n for n, line in enumerate(lines, 1) if words in line)


def _only_problem(file: Path):
    policy, problems = check_policy(file)
    assert policy is None and len(problems) == 1, [p.render() for p in problems]
    return problems[0]




def test_a_quote_from_a_declared_text_is_verified_and_its_verdict_names_the_text(tmp_path):
    file = _law_tree(tmp_path)
    policy = load_policy(file)
    (ground,) = [g for g in policy.grounds if g.cite.text == "gov-sanctions-law"]
    assert ground.cite.label == f"《{LAW_TITLE}》第七条第（一）项"
    assert ground.cite.to_json() == {"article": 7, "item": 1, "text": "gov-sanctions-law"}
    own = load_policy(POLICIES / XJ / XJ_POLICY)
    assert policy.quotes_verified == own.quotes_verified  # the re-cited quote counts as verified
    verdict = decide(policy, "recusal", {"expert": {"id": "E-1"}, "matter": {"leader": "E-1", "participants": []}},
                     "2026-05-18")
    finding = next(f for f in verdict.findings if f.rule == ground.id)
    assert finding.cite == f"《{LAW_TITLE}》第七条第（一）项" and finding.quote == "警告"


def test_a_wrong_quote_from_a_declared_text_is_located_with_the_closest_passage(tmp_path):
    file = _law_tree(tmp_path, cite="      cite: {text: gov-sanctions-law, article: 8, item: 1}\n      quote: 警告，十二个月")
    p = _only_problem(file)
    assert p.code == "quote_not_found" and p.line == _line_of(file, "quote: 警告，十二个月")
    assert p.message.startswith(f"quote is not in 《{LAW_TITLE}》第八条第（一）项 of ")
    assert p.message.endswith(f"/_shared/texts/{LAW_NAME}")  # the file as the caller named the policy
    assert p.hint == 'closest passage: "警告，六个月"'


def test_a_cite_of_a_passage_the_declared_text_lacks_is_located(tmp_path):
    file = _law_tree(tmp_path, cite="      cite: {text: gov-sanctions-law, article: 7, item: 9}\n      quote: 警告")
    p = _only_problem(file)
    assert p.code == "citation" and p.line == _line_of(file, "text: gov-sanctions-law, article: 7, item: 9")
    assert f"《{LAW_TITLE}》第七条第（九）项" in p.message and LAW_NAME in p.hint


def test_an_undeclared_text_id_is_located(tmp_path):
    file = _law_tree(tmp_path, cite="      cite: {text: gov-sanction-law, article: 7, item: 1}\n      quote: 警告")
    p = _only_problem(file)
    assert p.code == "citation" and p.line == _line_of(file, "gov-sanction-law")
    assert "'gov-sanction-law'" in p.message and "declared texts: gov-sanctions-law" in p.message


def test_a_missing_declared_text_is_located(tmp_path):
    file = _law_tree(tmp_path, copy=False)
    p = _only_problem(file)
    assert p.code == "source_missing" and p.line == _line_of(file, "file: ../_shared/texts/")
    assert "not found" in p.message and "_shared/texts/" in p.hint


def test_a_changed_declared_text_is_located(tmp_path):
    file = _law_tree(tmp_path)
    law = file.parent.parent / "_shared" / "texts" / LAW_NAME
    law.write_bytes(law.read_bytes().replace("（一）警告；".encode(), "（一）警示；".encode(), 1))
    policy, problems = check_policy(file)
    assert policy is None and [p.code for p in problems] == ["source_sha256", "quote_not_found"]
    p, quote = problems
    assert p.line == _line_of(file, "sha256: " + hashlib.sha256(LAW.read_bytes()).hexdigest())
    assert "gov-sanctions-law" in p.message and "re-verify every quote" in p.hint
    # as with the policy's own source, the quotes are checked against the text as it now is
    assert quote.line == _line_of(file, "quote: 警告") and "the quote is in 第八条第（一）项" in quote.hint


def test_a_declared_text_outside_the_policies_folder_is_refused(tmp_path):
    sha = hashlib.sha256(LAW.read_bytes()).hexdigest()
    texts = (f"texts:\n  - id: gov-sanctions-law\n    title: {LAW_TITLE}\n    file: {LAW}\n    sha256: {sha}\n")
    file = _law_tree(tmp_path, texts=texts)
    p = _only_problem(file)
    assert p.code == "source_path" and p.line == _line_of(file, f"file: {LAW}")


def test_a_declared_text_in_the_policys_own_folder_and_a_sub_item_without_item(tmp_path):
    sha = hashlib.sha256(LAW.read_bytes()).hexdigest()
    texts = (f"texts:\n  - id: gov-sanctions-law\n    title: {LAW_TITLE}\n    file: {LAW_NAME}\n    sha256: {sha}\n")
    file = _law_tree(tmp_path, texts=texts, copy=False)
    shutil.copy(LAW, file.parent / LAW_NAME)
    assert load_policy(file).grounds[0].cite.label == f"《{LAW_TITLE}》第七条第（一）项"
    file.write_text(file.read_text(encoding="utf-8").replace(
        "{text: gov-sanctions-law, article: 7, item: 1}", "{text: gov-sanctions-law, article: 7, subitem: 1}"),
        encoding="utf-8")
    p = _only_problem(file)
    assert p.code == "citation" and "within its item" in p.message
