from django.urls import path, re_path

from sandbox import ark, files, gateway, volcengine

app_name = "sandbox"

urlpatterns = [
    re_path(r"^volcengine/?$", volcengine.volcengine, name="volcengine"),
    path("gateway/v1/video/generations", gateway.gateway_collection, name="gateway"),
    path("gateway/v1/video/generations/<str:task_id>", gateway.gateway_item, name="gateway-item"),
    path("ark/api/v3/contents/generations/tasks", ark.tasks, name="ark-tasks"),
    path("ark/api/v3/contents/generations/tasks/<str:task_id>", ark.task, name="ark-task"),
    re_path(r"^files/(?P<key>[0-9a-f]{32})\.mp4$", files.video_file, name="file"),
    re_path(r"^files/(?P<key>[0-9a-f]{32})-last\.png$", files.frame_file, name="frame"),
    re_path(r"^samples/(?P<name>[a-z]+\.(?:jpg|png))$", files.sample_image, name="sample"),
]
