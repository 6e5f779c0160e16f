"""Congress tables: ZIP → (state, district) pairs, members' district offices, and the loaded data's version."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models import Target, utcnow

# Where a ZIP row came from: a Census ZCTA (district known), or the USPS supplement (state known).
ZCTA, SUPPLEMENT = "zcta", "supplement"


class ZipDistrict(db.Model):
    """One (ZIP, state, district) pair. A ZIP has several rows when it spans districts or states.

    `district` is NULL for supplement ZIPs whose House district is unknown; 0 means at-large or delegate.
    """

    __tablename__ = "congress_zips"
    __table_args__ = (Index("ix_congress_zips_zip", "zip"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    zip: Mapped[str] = mapped_column(String(5))
    state: Mapped[str] = mapped_column(String(2))
    district: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(12))  # zcta | supplement
    zip_type: Mapped[str | None] = mapped_column(String(12))  # supplement only: PO BOX | UNIQUE | STANDARD


class DistrictOffice(db.Model):
    """A member's home-state or district office: where printed letters can go without DC's mail screening."""

    __tablename__ = "congress_offices"
    __table_args__ = (Index("ix_congress_offices_target", "target_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the source's office_id
    target_id: Mapped[str] = mapped_column(ForeignKey(Target.id))
    building: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    suite: Mapped[str] = mapped_column(String(100), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(2), default="")
    zip: Mapped[str] = mapped_column(String(10), default="")
    phone: Mapped[str | None] = mapped_column(String(40))
    fax: Mapped[str | None] = mapped_column(String(40))


class CongressDataset(db.Model):
    """One row: the version of the loaded Congress data. A new version tells every process to drop its cache."""

    __tablename__ = "congress_dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    summary: Mapped[str] = mapped_column(Text, default="")


class FormLink(db.Model):
    """A contact-form link an organizer entered for a member of Congress (448 of 537 have none in the data).

    The member's `contact_form` holds it, so every page and lookup reads one field; this row says who entered it
    and what the data said, so `flask congress load` keeps it and removing it gives the data's link back.
    """

    __tablename__ = "congress_form_links"

    target_id: Mapped[str] = mapped_column(ForeignKey(Target.id), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    # What the Congress data says for this member as of the last load or entry (None: no link).
    data_url: Mapped[str | None] = mapped_column(String(500))
    entered_by: Mapped[str] = mapped_column(String(254))
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
