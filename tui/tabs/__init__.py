"""The detail tabs: one compound widget per tab (compose, worker and CSS of its own)."""

from lakebox.tui.tabs.checks import ChecksTab
from lakebox.tui.tabs.data import DataTab
from lakebox.tui.tabs.datasets import DatasetsTab
from lakebox.tui.tabs.executions import ExecutionsTab
from lakebox.tui.tabs.history import CommitChosen, HistoryTab
from lakebox.tui.tabs.lineage import LineageTab
from lakebox.tui.tabs.overview import OverviewTab
from lakebox.tui.tabs.stats import StatsTab
from lakebox.tui.tabs.trials import TrialsTab
from lakebox.tui.tabs.versions import VersionsTab

# Every tab, in the order of the tab bar; which of them an asset shows depends on its kind.
ALL_TABS = (OverviewTab, DataTab, HistoryTab, StatsTab, ChecksTab, DatasetsTab, TrialsTab, VersionsTab, ExecutionsTab,
            LineageTab)
TABS_BY_KIND = {
    "feature_group": ("overview", "data", "history", "stats", "checks", "lineage"),
    "feature_view": ("overview", "datasets", "lineage"),
    "training_dataset": ("overview", "stats", "lineage"),
    "experiment": ("overview", "trials", "lineage"),
    "model": ("overview", "versions", "lineage"),
    "deployment": ("overview", "lineage"),
    "job": ("overview", "executions", "lineage"),
    "monitor": ("overview", "lineage"),
}
# An external group's rows live in its source: no commits, so no history and no statistics.
EXTERNAL_TABS = ("overview", "data", "checks", "lineage")

__all__ = [
    "ALL_TABS", "EXTERNAL_TABS", "TABS_BY_KIND", "ChecksTab", "CommitChosen", "DataTab", "DatasetsTab", "ExecutionsTab",
    "HistoryTab", "LineageTab",
    "OverviewTab", "StatsTab", "TrialsTab", "VersionsTab",
]
