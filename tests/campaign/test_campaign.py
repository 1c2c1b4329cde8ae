"""The campaign HypoFuzz runs (`nox -s fuzz_campaign -- --candidate PATH --against V`).

Not collected by the test suite (pyproject's norecursedirs skips tests/campaign): it needs
QEMU_IMG_CAMPAIGN_CANDIDATE and QEMU_IMG_CAMPAIGN_AGAINST, which the nox session sets.
See toolkit/stages/fuzz/campaign.py.
"""

from toolkit.stages.fuzz.campaign import campaign_test

test_candidate_against_qemu_img = campaign_test()
