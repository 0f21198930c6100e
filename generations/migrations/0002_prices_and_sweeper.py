"""Seed the editable price table and the periodic sweeper schedule."""

from django.db import migrations

from generations.jimeng.catalog import DEFAULT_PRICES

SWEEPER = "studio sweeper"


def seed(apps, schema_editor):
    Price = apps.get_model("generations", "Price")
    for price in DEFAULT_PRICES.values():
        Price.objects.get_or_create(
            key=price.key,
            defaults={"cny_per_second": price.cny_per_second, "is_estimate": price.is_estimate},
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
