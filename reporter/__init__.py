"""SmartCart Briefs: the weekly customer-segmentation brief for marketing managers."""

__version__ = "0.2.0"
