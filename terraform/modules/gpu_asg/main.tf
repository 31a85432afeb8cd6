# One region's GPU fleet: a launch template that requires IMDSv2 and encrypts its volumes, and
# an Auto Scaling group with a mixed instances policy over a fallback list of GPU types. It is
# created at `warm` capacity; standby then sets desired/min/max itself, so Terraform ignores
# those afterwards instead of undoing a failover on the next apply.

resource "aws_launch_template" "gpu" {
  name_prefix   = "${var.name}-"
  image_id      = var.ami_id
  user_data     = var.user_data
  ebs_optimized = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  monitoring {
    enabled = true
  }

  dynamic "iam_instance_profile" {
    for_each = var.instance_profile_arn == null ? [] : [var.instance_profile_arn]
    content {
      arn = iam_instance_profile.value
    }
  }

  vpc_security_group_ids = var.security_group_ids

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { "standby:group" = var.name })
  }
}

resource "aws_autoscaling_group" "gpu" {
  name                = var.name
  min_size            = var.warm
  max_size            = var.serving
  desired_capacity    = var.warm
  vpc_zone_identifier = var.subnet_ids
  health_check_type   = "EC2"

  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = var.serving
      on_demand_percentage_above_base_capacity = 100
    }
    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.gpu.id
        version            = "$Latest"
      }
      dynamic "override" {
        for_each = var.instance_types
        content {
          instance_type = override.value
        }
      }
    }
  }

  tag {
    key                 = "standby:group"
    value               = var.name
    propagate_at_launch = true
  }

  lifecycle {
    ignore_changes = [desired_capacity, min_size, max_size]
  }
}
