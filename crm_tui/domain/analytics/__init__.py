"""The analytics rules of the CRM practice: classification, RFM, value, satisfaction,
loyalty, reminders, complaint analytics and KPIs. Pure functions over plain data; the
SQL that feeds them is crm_tui.db.analytics and the use cases crm_tui.api.analytics."""
