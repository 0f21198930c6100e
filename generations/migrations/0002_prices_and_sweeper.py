"""Seed the editable price table and the periodic sweeper schedule."""

from decimal import Decimal

from django.db import migrations

SWEEPER = "studio sweeper"
# The prices of the time, written out: a migration must not change with the catalog.
PRICES = (
    ("jimeng_t2v_v30", "0.60", False),
    ("jimeng_t2v_v30_1080p", "0.80", False),
    ("jimeng_t2v_v30_pro", "1.00", False),
    ("jimeng_ti2v_v30_pro", "1.00", False),
    ("jimeng_i2v_first_v30", "0.60", True),
    ("jimeng_i2v_first_v30_1080", "0.80", True),
    ("jimeng_i2v_first_tail_v30", "0.60", True),
    ("jimeng_i2v_first_tail_v30_1080", "0.80", True),
    ("jimeng_i2v_recamera_v30", "0.60", True),
    ("jimeng_vgfm_t2v_l20", "0.60", True),
    ("jimeng_vgfm_i2v_l20", "0.60", True),
    ("doubao-seedance-1-0-pro-250528", "1.00", True),
    ("doubao-seedance-1-0-pro-fast-251015", "0.60", True),
    ("doubao-seedance-1-0-lite-t2v-250428", "0.50", True),
    ("doubao-seedance-1-0-lite-i2v-250428", "0.50", True),
    ("doubao-seedance-1-5-pro", "1.20", True),
)


def seed(apps, schema_editor):
    Price = apps.get_model("generations", "Price")
    for key, per_second, is_estimate in PRICES:
        Price.objects.get_or_create(
            key=key, defaults={"cny_per_second": Decimal(per_second), "is_estimate": is_estimate}
        )
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SWEEPER,
        defaults={"func": "generations.tasks.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def unseed(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEPER).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
