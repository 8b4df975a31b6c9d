"""Drafts looked up in the prompt: the longest recent ending wins, the latest occurrence of it."""

from nlq.models.prompt_lookup import draft


def test_the_longest_ending_found_decides():
    # "7 8" occurs once before the end, followed by 1; "8" alone was last followed by 4
    context = [7, 8, 1, 2, 9, 8, 4, 7, 8]
    assert draft(context, max_draft=2) == [1, 2]


def test_the_latest_occurrence_wins():
    context = [1, 2, 6, 1, 2, 3, 1, 2]  # "1 2" was followed by 6, later by 3
    assert draft(context, max_draft=3) == [3, 1, 2]


def test_a_draft_stops_at_the_context_end_and_at_its_length():
    assert draft([1, 2, 3, 4, 1], max_draft=10) == [2, 3, 4, 1]
    assert draft([1, 2, 3, 4, 1], max_draft=2) == [2, 3]


def test_nothing_to_look_up():
    assert draft([], max_draft=4) == []
    assert draft([1], max_draft=4) == []
    assert draft([1, 2, 3], max_draft=4) == []
    assert draft([1, 2, 1], max_draft=0) == []
