"""SmartCart Briefs: the weekly customer-segmentation brief for marketing managers."""

__version__ = "0.1.0"
